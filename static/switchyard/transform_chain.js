// Transform chains without JSON: each rule's chain is shown as steps, each step with a small
// form for its parameters (a value, a replacement table, a tick), checked as you type. The
// chain is written back into the rule's (hidden) transforms box, which the server reads.
(function () {
  "use strict";
  const data = document.getElementById("transform-forms");
  if (!data) return;
  const catalog = JSON.parse(data.textContent);  // {transforms: [{name, description}], fields: {...}}
  const fieldsOf = function (name) { return catalog.fields[name] || []; };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { node.setAttribute(k, v); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stepProblems(step) {
    const problems = [];
    fieldsOf(step.name).forEach(function (field) {
      const value = (step.params || {})[field.name];
      if (field.kind === "pairs") {
        const pairs = Object.entries(value || {});
        if (field.required && !pairs.length) problems.push("add at least one replacement");
      } else if (field.kind === "integer") {
        if (value === undefined || value === "") { if (field.required) problems.push(field.label.toLowerCase() + ": a number is needed"); }
        else if (!/^[0-9]+$/.test(String(value)) || Number(value) < 1) problems.push(field.label.toLowerCase() + ": a whole number above 0");
      } else if (field.kind !== "flag" && field.required && (value === undefined || String(value).trim() === "")) {
        problems.push(field.label.toLowerCase() + " is needed");
      }
    });
    return problems;
  }

  function serialize(editor) {
    const chain = editor.steps.map(function (step) {
      const params = {};
      Object.entries(step.params || {}).forEach(function ([k, v]) {
        if (v === "" || v === false || v === undefined) return;
        if (typeof v === "object" && !Object.keys(v).length) return;
        params[k] = v;
      });
      return Object.keys(params).length ? {name: step.name, params: params} : step.name;
    });
    const plain = chain.every(function (item) { return typeof item === "string"; });
    editor.input.value = plain ? chain.join(", ") : JSON.stringify(chain);
  }

  function pairsEditor(editor, step, field) {
    const box = el("span", {"class": "sy-pairs"});
    const table = step.params[field.name] = step.params[field.name] || {};
    const rows = Object.entries(table);
    if (!rows.length) rows.push(["", ""]);
    function sync() {
      const next = {};
      box.querySelectorAll(".sy-pair").forEach(function (pair) {
        const from = pair.querySelector(".sy-pair-from").value;
        if (from.trim()) next[from.trim()] = pair.querySelector(".sy-pair-to").value.trim();
      });
      step.params[field.name] = next;
      changed(editor);
    }
    function addRow(from, to) {
      const pair = el("span", {"class": "sy-pair"});
      const a = el("input", {"class": "sy-pair-from", "size": 10, "placeholder": "in the file", "aria-label": "Replace"});
      const b = el("input", {"class": "sy-pair-to", "size": 10, "placeholder": "sent as", "aria-label": "With"});
      a.value = from; b.value = to;
      a.addEventListener("input", sync); b.addEventListener("input", sync);
      pair.append(a, " → ", b, " ");
      box.insertBefore(pair, more);
    }
    const more = el("button", {"type": "button", "class": "sy-pair-add"}, "+ pair");
    box.appendChild(more);
    rows.forEach(function ([from, to]) { addRow(from, to); });
    more.addEventListener("click", function () { addRow("", ""); });
    return box;
  }

  function paramInput(editor, step, field) {
    const label = el("label", {"class": "sy-param"});
    label.append(field.label + " ");
    const value = step.params[field.name];
    let input;
    if (field.kind === "pairs") return pairsEditor(editor, step, field);
    if (Array.isArray(field.kind)) {
      input = el("select", {"data-param": field.name});
      field.kind.forEach(function (choice) { input.appendChild(el("option", {"value": choice}, choice)); });
      if (value === undefined) step.params[field.name] = field.kind[0];
      input.value = step.params[field.name];
    } else if (field.kind === "flag") {
      input = el("input", {"type": "checkbox", "data-param": field.name});
      input.checked = Boolean(value);
    } else {
      input = el("input", {"data-param": field.name, "size": field.kind === "integer" ? 5 : 14,
        "inputmode": field.kind === "integer" ? "numeric" : "text"});
      input.value = value === undefined ? "" : String(value);
    }
    input.addEventListener(field.kind === "flag" || Array.isArray(field.kind) ? "change" : "input", function () {
      let next = field.kind === "flag" ? input.checked : input.value;
      if (field.kind === "integer" && /^[0-9]+$/.test(next)) next = Number(next);
      step.params[field.name] = next;
      changed(editor);
    });
    label.appendChild(input);
    return label;
  }

  function changed(editor) {
    let bad = [];
    editor.list.querySelectorAll(".sy-step").forEach(function (node, index) {
      const problems = stepProblems(editor.steps[index]);
      node.classList.toggle("sy-bad", problems.length > 0);
      node.querySelector(".sy-step-problem").textContent = problems.join("; ");
      bad = bad.concat(problems.map(function (p) { return editor.steps[index].name + ": " + p; }));
    });
    editor.cell.classList.toggle("sy-chain-invalid", bad.length > 0);
    serialize(editor);
  }

  function render(editor) {
    editor.list.replaceChildren();
    editor.steps.forEach(function (step, index) {
      const node = el("span", {"class": "sy-step", "data-transform": step.name});
      node.appendChild(el("strong", {"title": (catalog.transforms.find(function (t) { return t.name === step.name; }) || {}).description || ""}, step.name));
      fieldsOf(step.name).forEach(function (field) { node.append(" ", paramInput(editor, step, field)); });
      const remove = el("button", {"type": "button", "class": "sy-step-remove", "title": "Remove " + step.name, "aria-label": "Remove " + step.name}, "×");
      remove.addEventListener("click", function () { editor.steps.splice(index, 1); render(editor); });
      node.append(" ", remove, el("span", {"class": "sy-step-problem sy-bad"}));
      editor.list.appendChild(node);
    });
    changed(editor);
  }

  function attach(input) {
    if (input.dataset.chainAttached) return;
    let chain = [];
    try { chain = JSON.parse(input.dataset.chain || "[]"); } catch (error) { return; }
    if (input.dataset.chain === undefined && input.value.trim()) return;  // unreadable text: leave the box
    input.dataset.chainAttached = "1";
    const cell = input.closest("td");
    const editor = {input: input, cell: cell, steps: chain.map(function (item) {
      return typeof item === "string" ? {name: item, params: {}} : {name: item.name, params: Object.assign({}, item.params || {})};
    })};
    editor.list = el("span", {"class": "sy-chain"});
    const picker = el("select", {"class": "sy-add-step", "aria-label": "Add a transform"});
    picker.appendChild(el("option", {"value": ""}, "+ transform"));
    catalog.transforms.forEach(function (t) { picker.appendChild(el("option", {"value": t.name, "title": t.description}, t.name)); });
    picker.addEventListener("change", function () {
      if (!picker.value) return;
      editor.steps.push({name: picker.value, params: {}});
      picker.value = "";
      render(editor);
      const first = editor.list.lastElementChild.querySelector("input, select");
      if (first) first.focus();
    });
    input.type = "hidden";
    cell.append(editor.list, picker);
    render(editor);
  }

  document.querySelectorAll("input.sy-transforms").forEach(attach);
  const body = document.querySelector("#mapping-rules tbody");
  if (body) new MutationObserver(function () { body.querySelectorAll("input.sy-transforms").forEach(attach); })
    .observe(body, {childList: true});
})();
