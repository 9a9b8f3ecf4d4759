// The parameter page's search: keep the rows whose text contains every word typed (case-insensitive).
"use strict";
(function () {
  const box = document.getElementById("param-search");
  const rows = Array.from(document.querySelectorAll("#params tbody tr"));
  const count = document.getElementById("param-count");
  const texts = rows.map((r) => r.textContent.toLowerCase());
  function filter() {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    rows.forEach((row, i) => {
      const keep = words.every((w) => texts[i].includes(w));
      row.hidden = !keep;
      if (keep) shown += 1;
    });
    count.textContent = `${shown} of ${rows.length} parameters`;
  }
  box.addEventListener("input", filter);
  filter();
})();
