// The pipeline board, enhanced: drag a card onto another column, or use a card's "Move
// to" form without leaving the page. Both post JSON to /<plural>/<id>/move; a refused
// move puts the card back and says why in the status line, a stale card is redrawn as
// it now is, and a stage that closes a record asks for the reason in a dialog first.
// Without this file the forms post and the page reloads; nothing is lost.
// It starts on DOMContentLoaded, after accord.js (loaded after it) has set window.accord.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";

  var board = document.querySelector(".board");
  if (!board || !window.accord) { return; }
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("board-reason-dialog");
  var dragged = null;

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("board-status-error", !!isError);
  }

  function columnOf(stage) {
    return board.querySelector('.board-column[data-stage="' + CSS.escape(stage) + '"]');
  }

  function reasonsOf(column) {
    try { return JSON.parse(column.getAttribute("data-reasons") || "[]"); } catch (e) { return []; }
  }

  function refreshEmpty() {
    board.querySelectorAll(".board-column").forEach(function (column) {
      var list = column.querySelector(".board-cards");
      column.querySelector(".board-empty").hidden = list.querySelector(".board-card") !== null;
    });
  }

  function updateColumns(columns) {
    Object.keys(columns || {}).forEach(function (stage) {
      var column = columnOf(stage);
      if (!column) { return; }
      column.querySelector(".stage-count").textContent = columns[stage].count_text;
      var total = column.querySelector(".stage-total");
      total.textContent = columns[stage].total_text;
      total.hidden = !columns[stage].total_text;
    });
  }

  // Put the server's markup of a card in its column (newest first), replacing the old one.
  function placeCard(card, data) {
    var holder = document.createElement("ol");
    holder.innerHTML = data.card_html;
    var fresh = holder.firstElementChild;
    var column = columnOf(data.stage);
    if (column) {
      var list = column.querySelector(".board-cards");
      list.insertBefore(fresh, list.firstElementChild);
      if (card.parentNode) { card.parentNode.removeChild(card); }
      enable(fresh);
    } else if (card.parentNode) {
      card.parentNode.removeChild(card);
    }
    refreshEmpty();
    return fresh;
  }

  // Ask why, when the target stage closes the record with a reason; resolves to the
  // reason, or null when the person cancels.
  function askReason(column) {
    var reasons = reasonsOf(column);
    if (!reasons.length) { return Promise.resolve(undefined); }
    if (!dialog || typeof dialog.showModal !== "function") { return Promise.resolve(null); }
    var select = dialog.querySelector("select");
    select.textContent = "";
    var blank = document.createElement("option");
    blank.value = "";
    blank.textContent = "Choose a reason";
    select.appendChild(blank);
    reasons.forEach(function (reason) {
      var option = document.createElement("option");
      option.value = reason.key;
      option.textContent = reason.label;
      select.appendChild(option);
    });
    dialog.querySelector("h2").textContent = "Why move it to " + column.getAttribute("data-label") + "?";
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "confirm" && select.value ? select.value : null);
      });
      dialog.showModal();
      select.focus();
    });
  }

  // Move ``card`` to ``stage``; the card is shown there at once and put back if refused.
  function move(card, stage) {
    var from = card.parentNode;
    var next = card.nextSibling;
    var column = columnOf(stage);
    if (!column || stage === card.getAttribute("data-stage")) { return; }
    askReason(column).then(function (reason) {
      if (reason === null) {
        say("Not moved.", false);
        return;
      }
      var list = column.querySelector(".board-cards");
      list.insertBefore(card, list.firstElementChild);
      card.classList.add("board-card-pending");
      refreshEmpty();
      var body = {stage: stage, version: parseInt(card.getAttribute("data-version"), 10)};
      if (reason) { body.close_reason = reason; }
      window.accord.send(card.getAttribute("data-move-url"), {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return {ok: response.ok, status: response.status, data: data};
        });
      }).then(function (answer) {
        card.classList.remove("board-card-pending");
        if (answer.ok) {
          var fresh = placeCard(card, answer.data);
          updateColumns(answer.data.columns);
          say(answer.data.message, false);
          fresh.focus();
        } else if (answer.status === 409 && answer.data.card_html) {
          var current = placeCard(card, answer.data);
          updateColumns(answer.data.columns);
          say(answer.data.error.message, true);
          current.focus();
        } else {
          from.insertBefore(card, next);
          refreshEmpty();
          var error = answer.data && answer.data.error;
          say(error ? error.message : "The move did not go through; reload the board and try again.", true);
          card.focus();
        }
      }).catch(function () {
        card.classList.remove("board-card-pending");
        from.insertBefore(card, next);
        refreshEmpty();
        say("The move did not go through; check the connection and try again.", true);
      });
    });
  }

  function enable(card) {
    card.addEventListener("dragstart", function (event) {
      dragged = card;
      card.classList.add("board-card-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
    });
    card.addEventListener("dragend", function () {
      card.classList.remove("board-card-dragging");
      dragged = null;
      board.querySelectorAll(".board-drop-target").forEach(function (c) { c.classList.remove("board-drop-target"); });
    });
    var form = card.querySelector(".move-form");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        move(card, form.querySelector("select").value);
      });
    }
  }

  board.querySelectorAll(".board-card").forEach(enable);
  board.querySelectorAll(".board-column").forEach(function (column) {
    column.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("board-drop-target");
    });
    column.addEventListener("dragleave", function (event) {
      if (!column.contains(event.relatedTarget)) { column.classList.remove("board-drop-target"); }
    });
    column.addEventListener("drop", function (event) {
      event.preventDefault();
      column.classList.remove("board-drop-target");
      if (dragged) { move(dragged, column.getAttribute("data-stage")); }
    });
  });
});
