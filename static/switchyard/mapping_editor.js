// Field-mapping editor: add rows to the formset (transform_chain.js edits each chain),
// and preview the unsaved rows on the last import (POST to a JSON endpoint; nothing saved).
(function () {
  "use strict";
  const form = document.getElementById("mapping-form");
  if (!form) return;
  const body = document.querySelector("#mapping-rules tbody");
  const total = form.querySelector("input[name='rules-TOTAL_FORMS']");

  document.getElementById("add-rule").addEventListener("click", function () {
    const html = document.getElementById("empty-rule").innerHTML.replaceAll("__prefix__", total.value);
    body.insertAdjacentHTML("beforeend", html);
    total.value = String(Number(total.value) + 1);
  });

  function cell(row, text, tag) {
    const element = document.createElement(tag || "td");
    element.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(element);
    return element;
  }

  const button = document.getElementById("preview-mapping");
  if (!button) return;
  button.addEventListener("click", async function () {
    const panel = document.getElementById("mapping-preview");
    const problems = document.getElementById("mapping-preview-problems");
    const table = document.getElementById("mapping-preview-table");
    button.disabled = true;
    try {
      const response = await fetch(form.dataset.previewUrl, {method: "POST", body: new FormData(form),
        headers: {"Accept": "application/json"}});
      const result = await response.json();
      panel.hidden = false;
      problems.replaceChildren();
      table.tHead.replaceChildren();
      table.tBodies[0].replaceChildren();
      if (!result.ok) {
        const list = document.createElement("ul");
        list.className = "errorlist";
        result.problems.forEach(function (p) { cell(list, p, "li"); });
        problems.appendChild(list);
        return;
      }
      const head = document.createElement("tr");
      cell(head, "From", "th");
      result.columns.forEach(function (c) { cell(head, c, "th"); });
      cell(head, "Errors", "th");
      table.tHead.appendChild(head);
      result.rows.forEach(function (r) {
        const row = document.createElement("tr");
        cell(row, r.origin);
        result.columns.forEach(function (c) { cell(row, r.values[c]); });
        const errors = cell(row, r.errors.join("; "));
        if (r.errors.length) { errors.className = "sy-bad"; }
        table.tBodies[0].appendChild(row);
      });
    } finally {
      button.disabled = false;
    }
  });
})();
