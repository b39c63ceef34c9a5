// Accord's progressive enhancement: every page works without this file; with it, the
// search box suggests as you type, "/" focuses it, "?" opens help for the page in a side
// panel, and forms that fetch send the CSRF token. No build step, no dependencies.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrf ? csrf.getAttribute("content") : "";

  function send(url, options) {
    options = options || {};
    options.headers = Object.assign({"X-CSRF-Token": csrfToken, "Accept": "application/json"}, options.headers || {});
    options.credentials = "same-origin";
    return fetch(url, options);
  }
  window.accord = {send: send, csrfToken: csrfToken};

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // Global search ----------------------------------------------------------------------
  var input = document.getElementById("global-search-input");
  var box = document.getElementById("global-search-results");
  var timer = null;
  var active = -1;
  var latest = 0;

  function options() { return box ? Array.prototype.slice.call(box.querySelectorAll('[role="option"]')) : []; }

  function closeResults() {
    if (!box) { return; }
    box.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var all = options();
    all.forEach(function (el, i) { el.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({block: "nearest"});
    }
  }

  function showResults(data) {
    box.textContent = "";
    var count = 0;
    data.groups.forEach(function (group) {
      var heading = document.createElement("div");
      heading.className = "search-group";
      heading.setAttribute("role", "presentation");
      heading.textContent = group.label;
      box.appendChild(heading);
      group.items.forEach(function (item) {
        var option = document.createElement("a");
        option.href = item.url;
        option.id = "search-option-" + count;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.className = "search-option";
        option.textContent = item.title;
        box.appendChild(option);
        count += 1;
      });
    });
    if (count === 0) {
      var none = document.createElement("p");
      none.className = "search-empty";
      none.textContent = "Nothing found for “" + data.query + "”.";
      box.appendChild(none);
    }
    var all = document.createElement("a");
    all.href = "/search?q=" + encodeURIComponent(data.query);
    all.id = "search-option-" + count;
    all.setAttribute("role", "option");
    all.setAttribute("aria-selected", "false");
    all.className = "search-option search-all";
    all.textContent = "See all results for “" + data.query + "”";
    box.appendChild(all);
    count += 1;
    box.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(count > 1 ? 0 : -1);
  }

  function suggest() {
    var query = input.value.trim();
    if (query.length < 2) { closeResults(); return; }
    var ticket = ++latest;
    send("/search/suggest?q=" + encodeURIComponent(query)).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && ticket === latest) { showResults(data); }
    }).catch(function () { /* the search page still works without suggestions */ });
  }

  if (input && box) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 120);
    });
    input.addEventListener("keydown", function (event) {
      var all = options();
      if (event.key === "ArrowDown" && all.length) {
        event.preventDefault();
        highlight(Math.min(active + 1, all.length - 1));
      } else if (event.key === "ArrowUp" && all.length) {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter" && !box.hidden && all[active]) {
        event.preventDefault();
        window.location.assign(all[active].href);
      } else if (event.key === "Escape" && !box.hidden) {
        event.preventDefault();  // Chromium would also clear a search field on Escape
        closeResults();
      }
    });
    document.addEventListener("click", function (event) {
      if (!box.contains(event.target) && event.target !== input) { closeResults(); }
    });
  }

  // Contextual help --------------------------------------------------------------------
  var panel = document.getElementById("help-panel");
  var toggle = document.querySelector(".help-toggle");
  var helpBody = panel ? panel.querySelector(".help-body") : null;
  var helpSearch = panel ? panel.querySelector(".help-search") : null;
  var opener = null;

  function loadHelp(query) {
    var page = document.body.getAttribute("data-help-page") || "";
    var url = "/help/panel?page=" + encodeURIComponent(page) + "&path=" + encodeURIComponent(window.location.pathname);
    if (query) { url += "&q=" + encodeURIComponent(query); }
    send(url, {headers: {"Accept": "text/html"}}).then(function (response) {
      return response.ok ? response.text() : "<p>Help could not be loaded. <a href=\"/help\">Open all help topics</a>.</p>";
    }).then(function (html) { helpBody.innerHTML = html; });
  }

  function openHelp() {
    opener = document.activeElement;
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    loadHelp("");
    panel.querySelector(".help-close").focus();
  }

  function closeHelp() {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (opener && opener.focus) { opener.focus(); } else { toggle.focus(); }
  }

  if (panel && toggle) {
    toggle.addEventListener("click", function (event) {
      event.preventDefault();  // without this script the link opens /help
      if (panel.hidden) { openHelp(); } else { closeHelp(); }
    });
    toggle.addEventListener("keydown", function (event) {
      if (event.key === " ") { event.preventDefault(); toggle.click(); }
    });
    panel.querySelector(".help-close").addEventListener("click", closeHelp);
    helpSearch.addEventListener("submit", function (event) {
      event.preventDefault();
      loadHelp(helpSearch.querySelector("input").value.trim());
    });
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeHelp(); } });
  }

  // Keyboard shortcuts -----------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "/" && input) {
      event.preventDefault();
      input.focus();
      input.select();
    } else if (event.key === "?" && panel) {
      event.preventDefault();
      if (panel.hidden) { openHelp(); } else { closeHelp(); }
    }
  });
})();
