// The automation rule form: show only the inputs the chosen trigger and each chosen action
// use, and show a new record type's stages and fields as soon as it is chosen. Without this
// file every input stays visible (each says what it is for) and a button shows the fields.
(function () {
  "use strict";

  var form = document.querySelector(".rule-form");
  if (!form) { return; }

  var type = form.querySelector("#rule-record_type");
  var refresh = form.querySelector("#rule-refresh");
  if (type && refresh) {
    refresh.parentNode.hidden = true;
    type.addEventListener("change", function () {
      if (form.requestSubmit) { form.requestSubmit(refresh); } else { refresh.click(); }
    });
  }

  var trigger = form.querySelector("#rule-trigger");
  function showTrigger() {
    Array.prototype.forEach.call(form.querySelectorAll("[data-trigger]"), function (part) {
      part.hidden = part.getAttribute("data-trigger") !== trigger.value;
    });
  }
  if (trigger) {
    trigger.addEventListener("change", showTrigger);
    showTrigger();
  }

  Array.prototype.forEach.call(form.querySelectorAll(".rule-action"), function (row) {
    var chosen = row.querySelector('select[name$="-do"]');
    if (!chosen) { return; }
    function showParameters() {
      Array.prototype.forEach.call(row.querySelectorAll("[data-uses]"), function (part) {
        part.hidden = part.getAttribute("data-uses").split(" ").indexOf(chosen.value) === -1;
      });
    }
    chosen.addEventListener("change", showParameters);
    showParameters();
  });
})();
