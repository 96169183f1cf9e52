// "Select all" for the dead-letter list's checkboxes.
(function () {
  "use strict";
  const all = document.getElementById("select-all");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll("input.sy-select").forEach(function (box) { box.checked = all.checked; });
  });
})();
