// The one-patient page: send the form as JSON (one run, or two to compare), show a field's error next to it,
// or draw the chart. The dose table is an alternative to a named regimen.
"use strict";
(function () {
  const form = document.getElementById("patient-form");
  const button = document.getElementById("run");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const table = document.getElementById("dose-table");
  const rows = document.querySelector("#blocks tbody");
  const template = document.getElementById("block-row");
  const compare = document.getElementById("compare");
  const TEXT = ["indication", "weight_kg", "nephrectomy", "lesions", "lesion_mm", "molecule", "regimen", "rules", "days"];
  const B_TEXT = ["molecule", "regimen", "rules"];
  const BLOCKS = JSON.parse(document.getElementById("regimen-blocks").dataset.blocks || "{}");
  let lastNamed = form.regimen.value;

  const wanted = new URLSearchParams(window.location.search).get("regimen");
  if (wanted && Array.from(form.regimen.options).some((o) => o.value === wanted)) form.regimen.value = wanted;

  // ---- the dose table
  function addRow(cells) {
    const row = template.content.firstElementChild.cloneNode(true);
    for (const input of row.querySelectorAll("[data-col]")) {
      const value = cells && cells[input.dataset.col];
      if (value !== undefined) input.value = value;
    }
    row.querySelector(".remove").addEventListener("click", () => { row.remove(); numberRows(); });
    rows.appendChild(row);
    numberRows();
  }

  function numberRows() {
    Array.from(rows.querySelectorAll("tr.block")).forEach((row, i) => {
      row.id = `block-${i + 1}`;
      for (const input of row.querySelectorAll("[data-col]")) input.id = `block-${i + 1}-${input.dataset.col}`;
    });
  }

  function showTable() {
    const custom = form.regimen.value === "custom";
    table.hidden = !custom;
    if (custom && !rows.children.length) (BLOCKS[lastNamed] || [{}]).forEach(addRow);
    if (!custom) lastNamed = form.regimen.value;
  }

  form.regimen.addEventListener("change", showTable);
  document.getElementById("add-block").addEventListener("click", () => addRow({ unit: "iu_per_kg", route: "iv" }));
  showTable();

  function blocks() {
    return Array.from(rows.querySelectorAll("tr.block"), (row) => {
      const cells = {};
      for (const input of row.querySelectorAll("[data-col]")) cells[input.dataset.col] = input.value;
      return cells;
    });
  }

  // ---- run B
  compare.addEventListener("change", () => { document.getElementById("run-b").hidden = !compare.checked; });
  document.getElementById("run-b").hidden = !compare.checked;

  // ---- errors
  function clearErrors() {
    document.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
    document.querySelectorAll(".field.invalid, .invalid").forEach((f) => f.classList.remove("invalid"));
    document.querySelectorAll("tr.row-error").forEach((r) => r.remove());
  }

  function showError(error, side) {
    let field = error.field;
    if (side === "b" && field && B_TEXT.concat(["care", "holds"]).includes(field)) field = `b_${field}`;
    const cell = field && field.startsWith("block-") ? document.getElementById(field) : null;
    const row = field && field.startsWith("block-") ? document.getElementById(field.split("-").slice(0, 2).join("-")) : null;
    if (row) {  // a cell of the dose table: the message on a line under its row, the cell marked
      if (cell) cell.classList.add("invalid");
      const line = document.createElement("tr");
      line.className = "row-error";
      const td = document.createElement("td");
      td.colSpan = 8;
      td.className = "error";
      td.id = `error-${field}`;
      td.setAttribute("role", "alert");
      td.textContent = error.message;
      line.appendChild(td);
      row.after(line);
      return;
    }
    const where = field && document.getElementById(`error-${field}`);
    if (where) {
      where.textContent = error.message;
      const box = document.getElementById(`field-${field}`);
      if (box) box.classList.add("invalid");
    } else {
      document.getElementById("error-form").textContent = (side ? `run ${side.toUpperCase()}: ` : "") + error.message;
    }
  }

  function text(node, value) { const e = document.createElement(node); e.textContent = value; return e; }

  function summaryLine(s) {
    return `${s.indication}, ${s.molecule} on ${s.regimen}: ${s.doses_given} of ${s.doses_scheduled} doses given` +
      ` (${s.doses_held} held, ${s.doses_stopped} stopped); best overall response ${s.best_overall_response}`;
  }

  function warnings(box, s, label) {
    if (!s.success) box.appendChild(text("p", `${label}simulation failed: ${s.message}`)).className = "warn";
    if (s.out_of_domain.length) {
      box.appendChild(text("p", `${label}the patient reached a state the model cannot follow: ` + s.out_of_domain.join(", "))).className = "warn";
    }
  }

  function links(box, downloads, label) {
    box.appendChild(text("span", `Download${label}: `));
    for (const [name, url] of Object.entries(downloads)) {
      const a = text("a", name);
      a.href = url;
      a.download = name;
      box.appendChild(a);
    }
  }

  function showSummary(data) {
    const box = document.getElementById("summary");
    const dl = document.getElementById("downloads");
    const cmp = document.getElementById("comparison");
    box.replaceChildren();
    dl.replaceChildren();
    cmp.replaceChildren();
    if (!data.runs) {
      box.appendChild(text("p", summaryLine(data.summary))).id = "summary-line";
      warnings(box, data.summary, "");
      links(dl, data.downloads, "");
      return;
    }
    const a = data.summary.a, b = data.summary.b;
    const onOff = (v) => (v ? "on" : "off");
    const rowsOf = [
      ["regimen", a.regimen, b.regimen], ["molecule", a.molecule, b.molecule], ["rule set", a.rules, b.rules],
      ["supportive care", onOff(a.care), onOff(b.care)], ["dose holds", onOff(a.holds), onOff(b.holds)],
      ["doses given / scheduled", `${a.doses_given} / ${a.doses_scheduled}`, `${b.doses_given} / ${b.doses_scheduled}`],
      ["doses held", a.doses_held, b.doses_held], ["doses stopped", a.doses_stopped, b.doses_stopped],
      ["best overall response", a.best_overall_response, b.best_overall_response],
      ["Cmax after the first dose (IU/mL)", fmt(a.cmax_iu_per_ml), fmt(b.cmax_iu_per_ml)],
      ["CTCAE grade \u2265 3", a.grade3plus.join(", ") || "none", b.grade3plus.join(", ") || "none"],
    ];
    const t = document.createElement("table");
    t.id = "comparison-table";
    t.className = "results";
    const head = t.createTHead().insertRow();
    for (const h of ["", "A (solid)", "B (dashed)"]) head.appendChild(text("th", h));
    const body = t.createTBody();
    for (const r of rowsOf) {
      const tr = body.insertRow();
      for (const c of r) tr.appendChild(text("td", String(c)));
    }
    cmp.appendChild(t);
    warnings(box, a, "A: ");
    warnings(box, b, "B: ");
    links(dl, data.downloads.a, " A");
    dl.appendChild(text("span", " "));
    links(dl, data.downloads.b, " B");
  }

  function fmt(x) { return x === null || x === undefined ? "n/a" : Number(x).toPrecision(4); }

  function formA() {
    const body = {};
    for (const name of TEXT) body[name] = form.elements[name].value;
    body.care = form.elements.care.checked;
    body.holds = form.elements.holds.checked;
    if (body.regimen === "custom") body.blocks = blocks();
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const a = formA();
    let url = "/api/patient", body = a;
    if (compare.checked) {
      const b = Object.assign({}, a);
      delete b.blocks;
      for (const name of B_TEXT) b[name] = form.elements[`b_${name}`].value;
      b.care = form.elements.b_care.checked;
      b.holds = form.elements.b_holds.checked;
      url = "/api/compare";
      body = { a: a, b: b };
    }
    button.disabled = true;
    status.textContent = "running\u2026";
    try {
      const reply = await fetch(url, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await reply.json();
      if (!reply.ok) {
        const error = data.error || { field: null, message: `error ${reply.status}` };
        showError(error, error.side);
        status.textContent = "not run";
        return;
      }
      result.hidden = false;
      showSummary(data);
      await Plotly.react("chart", data.figure.data, data.figure.layout, { responsive: true, displaylogo: false });
      status.textContent = "done";
      document.getElementById("chart").dataset.run = data.run || `${data.runs.a} ${data.runs.b}`;
    } catch (err) {
      showError({ field: null, message: "the server did not answer; is it still running?" });
      status.textContent = "not run";
    } finally {
      button.disabled = false;
    }
  });
})();
