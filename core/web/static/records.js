// List pages: a "select all on this page" box and a count of the selected rows. Without
// this file every row's box still works and the bulk actions still post.
(function () {
  "use strict";

  Array.prototype.forEach.call(document.querySelectorAll(".bulk-form"), function (form) {
    var all = form.querySelector(".select-all");
    var count = form.querySelector(".bulk-count");
    var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="ids"]'));
    if (!all || boxes.length === 0) { return; }

    function update() {
      var checked = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
      if (count) {
        count.hidden = false;
        count.textContent = checked + " selected";
      }
    }

    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  });
})();
