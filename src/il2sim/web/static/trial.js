// The trial page: start a trial, poll its progress, cancel it, draw its results.
"use strict";
(function () {
  const form = document.getElementById("trial-form");
  const run = document.getElementById("run");
  const cancel = document.getElementById("cancel");
  const bar = document.getElementById("progress");
  const status = document.getElementById("status");
  const TEXT = ["indication", "molecule", "rules", "patients", "seed", "follow_up_weeks"];
  const CHARTS = ["waterfall", "spider", "km", "toxicity", "doses"];
  let polling = null;
  let shown = null;

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

  function showTrials(list) {
    const ul = document.getElementById("trials");
    ul.replaceChildren();
    for (const t of list) {
      const li = text("li", `${t.name}: ${t.arms.join(", ")}, ${t.patients} patients per arm, ${t.state} `);
      if (t.state === "interrupted" && t.resume) {
        li.appendChild(text("span", "\u2014 resume with: "));
        li.appendChild(text("code", t.resume));
      }
      if (t.state === "finished") {
        const a = text("a", "show results");
        a.href = `#${t.name}`;
        a.addEventListener("click", (ev) => { ev.preventDefault(); showResults(t.name); });
        li.appendChild(a);
      }
      ul.appendChild(li);
    }
    document.getElementById("trials-list").hidden = list.length === 0;
  }

  function showStatus(t) {
    if (!t) return;
    bar.hidden = false;
    bar.max = t.total;
    bar.value = t.done;
    const running = t.state === "running" || t.state === "cancelling";
    status.textContent = `${t.state}: ${t.done} of ${t.total} patients (${t.elapsed_s} s)` + (t.message ? ` \u2014 ${t.message}` : "");
    status.dataset.state = t.state;
    run.disabled = running;
    cancel.hidden = !running;
    cancel.disabled = t.state === "cancelling";
    document.getElementById("resume").hidden = t.state === "running";
    document.getElementById("resume-command").textContent = t.resume;
  }

  async function poll() {
    try {
      const reply = await fetch("/api/trial");
      const data = await reply.json();
      showTrials(data.trials || []);
      const t = data.current;
      showStatus(t);
      if (t && (t.state === "running" || t.state === "cancelling")) return;
      stopPolling();
      if (t && t.state === "finished" && shown !== t.name) await showResults(t.name);
    } catch (err) {
      status.textContent = "the server did not answer; is it still running?";
      stopPolling();
    }
  }

  function startPolling() { if (!polling) polling = window.setInterval(poll, 500); }
  function stopPolling() { if (polling) { window.clearInterval(polling); polling = null; } }

  async function showResults(name) {
    const reply = await fetch(`/api/trials/${encodeURIComponent(name)}`);
    const data = await reply.json();
    if (!reply.ok) { showError(data.error || { field: null, message: `error ${reply.status}` }); return; }
    shown = name;
    const section = document.getElementById("results");
    section.hidden = false;
    section.dataset.trial = name;
    document.getElementById("results-title").textContent = `Results of ${name}: ${data.arms.join(", ")}`;
    for (const [key, html] of Object.entries(data.tables)) {
      document.getElementById(`table-${key}`).innerHTML = html;  // server-built, every value escaped
    }
    const links = document.getElementById("trial-downloads");
    links.replaceChildren(text("span", "Download: "));
    for (const [file, url] of Object.entries(data.downloads)) {
      const a = text("a", file);
      a.href = url;
      a.download = file;
      links.appendChild(a);
    }
    for (const key of CHARTS) {
      const fig = data.figures[key];
      await Plotly.react(`chart-${key}`, fig.data, fig.layout, { responsive: true, displaylogo: false });
    }
    status.dataset.results = name;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = {};
    for (const name of TEXT) body[name] = form.elements[name].value;
    body.arms = Array.from(form.querySelectorAll("input[name=arms]:checked"), (e) => e.value);
    body.care = form.elements.care.checked;
    body.holds = form.elements.holds.checked;
    run.disabled = true;
    try {
      const reply = await fetch("/api/trial", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await reply.json();
      if (!reply.ok) {
        showError(data.error || { field: null, message: `error ${reply.status}` });
        status.textContent = "not run";
        run.disabled = false;
        return;
      }
      document.getElementById("results").hidden = true;
      showStatus(data.trial);
      startPolling();
    } catch (err) {
      showError({ field: null, message: "the server did not answer; is it still running?" });
      run.disabled = false;
    }
  });

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    const reply = await fetch("/api/trial/cancel", { method: "POST" });
    const data = await reply.json();
    if (reply.ok) showStatus(data.trial); else showError(data.error);
    startPolling();
  });

  poll().then(() => { if (status.dataset.state === "running" || status.dataset.state === "cancelling") startPolling(); });
})();
