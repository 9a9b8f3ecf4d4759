// The one-patient page: send the form as JSON, show a field's error next to it, or draw the chart.
"use strict";
(function () {
  const form = document.getElementById("patient-form");
  const button = document.getElementById("run");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const TEXT = ["indication", "weight_kg", "nephrectomy", "lesions", "lesion_mm", "molecule", "regimen", "rules", "days"];

  const wanted = new URLSearchParams(window.location.search).get("regimen");
  if (wanted && Array.from(form.regimen.options).some((o) => o.value === wanted)) form.regimen.value = wanted;

  function clearErrors() {
    document.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
    document.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
  }

  function showError(error) {
    const where = error.field && document.getElementById(`error-${error.field}`);
    if (where) {
      where.textContent = error.message;
      document.getElementById(`field-${error.field}`).classList.add("invalid");
    } else {
      document.getElementById("error-form").textContent = error.message;
    }
  }

  function text(node, value) { const e = document.createElement(node); e.textContent = value; return e; }

  function showSummary(s, downloads) {
    const box = document.getElementById("summary");
    box.replaceChildren();
    const line = `${s.indication}, ${s.molecule} on ${s.regimen}: ${s.doses_given} of ${s.doses_scheduled} doses given` +
      ` (${s.doses_held} held, ${s.doses_stopped} stopped); best overall response ${s.best_overall_response}`;
    box.appendChild(text("p", line)).id = "summary-line";
    if (!s.success) box.appendChild(text("p", `simulation failed: ${s.message}`)).className = "warn";
    if (s.out_of_domain.length) {
      box.appendChild(text("p", "the patient reached a state the model cannot follow: " + s.out_of_domain.join(", "))).className = "warn";
    }
    const links = document.getElementById("downloads");
    links.replaceChildren(text("span", "Download: "));
    for (const [name, url] of Object.entries(downloads)) {
      const a = text("a", name);
      a.href = url;
      a.download = name;
      links.appendChild(a);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = {};
    for (const name of TEXT) body[name] = form.elements[name].value;
    body.care = form.elements.care.checked;
    body.holds = form.elements.holds.checked;
    button.disabled = true;
    status.textContent = "running\u2026";
    try {
      const reply = await fetch("/api/patient", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await reply.json();
      if (!reply.ok) {
        showError(data.error || { field: null, message: `error ${reply.status}` });
        status.textContent = "not run";
        return;
      }
      result.hidden = false;
      showSummary(data.summary, data.downloads);
      await Plotly.react("chart", data.figure.data, data.figure.layout, { responsive: true, displaylogo: false });
      status.textContent = "done";
      document.getElementById("chart").dataset.run = data.run;
    } catch (err) {
      showError({ field: null, message: "the server did not answer; is it still running?" });
      status.textContent = "not run";
    } finally {
      button.disabled = false;
    }
  });
})();
