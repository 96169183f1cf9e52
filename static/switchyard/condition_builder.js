// Condition builder for territory and scoring rules: field, test and value(s) per line,
// written back as the rule's conditions (a hidden box the server reads). No JSON typed.
(function () {
  "use strict";
  const OPS = [
    ["equals", "is"], ["in", "is one of"], ["contains", "contains"],
    ["range", "is between"], ["empty", "is empty"], ["not_empty", "is not empty"],
  ];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { node.setAttribute(k, v); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function rowsFrom(when) {
    const rows = [];
    Object.entries(when || {}).forEach(function ([field, test]) {
      if (test !== null && typeof test === "object" && !Array.isArray(test)) {
        Object.entries(test).forEach(function ([op, value]) {
          if (op === "is_empty") rows.push({field: field, op: value ? "empty" : "not_empty"});
          else if (op === "in") rows.push({field: field, op: "in", value: (value || []).join(", ")});
          else if (op === "range") rows.push({field: field, op: "range", min: value.min, max: value.max});
          else rows.push({field: field, op: op, value: value});
        });
      } else if (Array.isArray(test)) rows.push({field: field, op: "in", value: test.join(", ")});
      else rows.push({field: field, op: "equals", value: test});
    });
    return rows;
  }

  function problemsOf(row) {
    if (!row.field || !String(row.field).trim()) return "pick a field";
    if (row.op === "range") {
      const bad = [row.min, row.max].some(function (v) { return v !== undefined && v !== "" && isNaN(Number(v)); });
      if (bad) return "the bounds must be numbers";
      if ((row.min === undefined || row.min === "") && (row.max === undefined || row.max === "")) return "give a lowest and/or highest number";
    } else if (row.op !== "empty" && row.op !== "not_empty" && (row.value === undefined || String(row.value).trim() === "")) {
      return "give a value";
    }
    return "";
  }

  function serialize(builder) {
    const when = {};
    builder.rows.forEach(function (row) {
      if (problemsOf(row)) return;
      const field = String(row.field).trim();
      const test = when[field] = when[field] || {};
      if (row.op === "empty" || row.op === "not_empty") test.is_empty = row.op === "empty";
      else if (row.op === "in") test["in"] = String(row.value).split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      else if (row.op === "range") {
        test.range = {};
        if (row.min !== undefined && row.min !== "") test.range.min = Number(row.min);
        if (row.max !== undefined && row.max !== "") test.range.max = Number(row.max);
      } else test[row.op] = String(row.value).trim();
    });
    builder.box.value = JSON.stringify(when);
  }

  function render(builder) {
    builder.list.replaceChildren();
    builder.rows.forEach(function (row, index) {
      const line = el("div", {"class": "sy-condition"});
      const field = el("input", {"class": "sy-cond-field", "list": "condition-fields", "size": 22, "placeholder": "field", "aria-label": "Field"});
      field.value = row.field || "";
      const op = el("select", {"class": "sy-cond-op", "aria-label": "Test"});
      OPS.forEach(function ([value, label]) { op.appendChild(el("option", {"value": value}, label)); });
      op.value = row.op || "equals";
      const values = el("span", {"class": "sy-cond-values"});
      const problem = el("span", {"class": "sy-cond-problem sy-bad"});
      function check() { problem.textContent = problemsOf(row); line.classList.toggle("sy-bad-row", Boolean(problem.textContent)); serialize(builder); }
      function drawValues() {
        values.replaceChildren();
        if (row.op === "range") {
          const low = el("input", {"class": "sy-cond-min", "size": 6, "placeholder": "lowest", "inputmode": "decimal", "aria-label": "Lowest"});
          const high = el("input", {"class": "sy-cond-max", "size": 6, "placeholder": "highest", "inputmode": "decimal", "aria-label": "Highest"});
          low.value = row.min === undefined ? "" : row.min; high.value = row.max === undefined ? "" : row.max;
          low.addEventListener("input", function () { row.min = low.value; check(); });
          high.addEventListener("input", function () { row.max = high.value; check(); });
          values.append(low, " and ", high);
        } else if (row.op !== "empty" && row.op !== "not_empty") {
          const value = el("input", {"class": "sy-cond-value", "size": 20,
            "placeholder": row.op === "in" ? "GB, DE, FR" : "value", "aria-label": "Value"});
          value.value = row.value === undefined ? "" : row.value;
          value.addEventListener("input", function () { row.value = value.value; check(); });
          values.append(value);
        }
      }
      field.addEventListener("input", function () { row.field = field.value; check(); });
      op.addEventListener("change", function () { row.op = op.value; drawValues(); check(); });
      const remove = el("button", {"type": "button", "class": "sy-step-remove", "aria-label": "Remove condition"}, "×");
      remove.addEventListener("click", function () { builder.rows.splice(index, 1); render(builder); });
      drawValues();
      line.append(field, " ", op, " ", values, " ", remove, " ", problem);
      builder.list.appendChild(line);
      check();
    });
    if (!builder.rows.length) builder.list.appendChild(el("div", {"class": "sy-muted"}, "Always (no condition)"));
    serialize(builder);
  }

  function attach(box) {
    if (box.dataset.builder || box.name.indexOf("__prefix__") !== -1) return;
    let when = {};
    try { when = JSON.parse(box.value || "{}") || {}; } catch (error) { return; }  // unreadable: leave the box
    box.dataset.builder = "1";
    const builder = {box: box, rows: rowsFrom(when), list: el("div", {"class": "sy-conditions-list"})};
    const add = el("button", {"type": "button", "class": "sy-cond-add"}, "+ condition");
    add.addEventListener("click", function () { builder.rows.push({field: "", op: "equals", value: ""}); render(builder); });
    box.style.display = "none";
    box.after(builder.list, add);
    render(builder);
  }

  function attachAll() { document.querySelectorAll("textarea.sy-conditions").forEach(attach); }
  document.addEventListener("DOMContentLoaded", attachAll);
  // Django's inlines add rows from a template: attach to those as they appear.
  document.addEventListener("formset:added", attachAll);
  if (document.readyState !== "loading") attachAll();
})();
