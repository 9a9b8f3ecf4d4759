"""The scorecard as text cells, ``validation.json`` and a self-contained ``validation.html``."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._files import atomic_write_text
from .._json import to_json_safe

__all__ = ["cells", "markdown", "provenance", "write_outputs"]


def _is_rate(r: Mapping[str, Any]) -> bool:
    base = r["statistic"].split(":")[0]
    return base not in ("median_doses_first_course", "km_median_months", "mean")


def _fmt(r: Mapping[str, Any], x: float | None, signed: bool = False, unit: bool = True) -> str:
    if x is None:
        return "NR" if r["statistic"] == "km_median_months" else "n/a"
    if _is_rate(r):
        text = f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
        return text + (" %" if unit else "")
    if r["statistic"].startswith("mean:"):
        return f"{x:.3g}"
    return f"{x:+.1f}" if signed else f"{x:.1f}" if r["statistic"] == "km_median_months" else f"{x:g}"


def _interval(r: Mapping[str, Any], lo: float | None, hi: float | None, signed: bool) -> str:
    sep = " to " if signed else "-"
    return f"({_fmt(r, lo, signed, unit=False)}{sep}{_fmt(r, hi, signed)})"


def cells(r: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """``(entry, published, simulated with its 95 % interval, verdict)`` as plain text."""
    p = r["published"]
    signed = r["statistic"] == "orr_difference" or r["statistic"].startswith("difference:")
    f = lambda x: _fmt(r, x, signed)  # noqa: E731
    if r["rule"] == "at_least":
        pub = f"at least {f(p['at_least'])}"
    elif r["rule"] in ("within", "difference_within"):
        pub = f"{f(p['value'])} +- {_fmt(r, p['tolerance'])}"
    else:
        pub = (f"{f(p['value'])} " if "value" in p else "") + _interval(r, p["lo"], p["hi"], signed)
    pub += f", n {r['n']}"
    lo, hi = r["ci95"]
    if r["simulated"] is None and r.get("not_reached"):
        sim = "not reached" + (f" (lower 95 % bound {f(lo)})" if lo is not None else "")
    else:
        sim = f"{f(r['simulated'])} {_interval(r, lo, hi, signed)}"
    sim += f", n {r['n_simulated']}"
    verdict = r["result"] + ("" if r["kind"] == "validation" or r["result"] == "pass" else " (calibration)")
    return r["id"], pub, sim, verdict


def provenance(*, patients: int, seed: int, registry: str, registry_sha256: str, only: Sequence[str]) -> dict[str, Any]:
    """Package version, model hash, date, patients, seed, the registry and the calibrated population used."""
    from .._version import __version__
    from ..model import default_model
    from ..population._calibrated import read_meta

    meta = read_meta() or {}
    return {"package_version": __version__, "model_hash": default_model().hash,
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "patients": patients, "seed": seed,
            "registry": registry, "registry_sha256": registry_sha256, "only": list(only),
            "calibration": {k: meta.get(k) for k in ("model_hash", "created", "il2sim_version")}}


def _html(results: Sequence[Mapping[str, Any]], prov: Mapping[str, Any]) -> str:
    e = lambda x: html.escape(str(x), quote=True)  # noqa: E731
    rows = []
    for r in results:
        name, pub, sim, verdict = cells(r)
        cls = "pass" if r["result"] == "pass" else "miss"
        rows.append(f"<tr class=\"{cls}\"><td><b>{e(name)}</b><br><small>{e(r['kind'])}; {e(', '.join(r['tags']))}"
                    f"</small></td><td>{e(pub)}<br><small>{e(r['source'])}: {e(r['population'])}</small></td>"
                    f"<td>{e(sim)}</td><td>{e(verdict)}</td><td><small>{e(r['statistic'])}, {e(r['rule'])}"
                    f"{'; ' + e(r['note']) if r['note'] else ''}</small></td></tr>")
    n_cal = sum(r["kind"] == "calibration" for r in results)
    miss_cal = sum(r["kind"] == "calibration" and r["result"] == "miss" for r in results)
    n_val = len(results) - n_cal
    miss_val = sum(r["kind"] == "validation" and r["result"] == "miss" for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>il2sim validation</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.4em; text-align: left; vertical-align: top; }}
tr.miss td:nth-child(4) {{ color: #b00; font-weight: bold; }}
tr.pass td:nth-child(4) {{ color: #070; }}
small {{ color: #666; }}
</style></head><body>
<h1>il2sim validation scorecard</h1>
<p>il2sim {e(prov['package_version'])}, model <code>{e(str(prov['model_hash'])[:16])}</code>, {e(prov['date'])};
{e(prov['patients'])} patients per trial, seed {e(prov['seed'])}; registry {e(prov['registry'])}.</p>
<p>Calibration targets: {n_cal - miss_cal} of {n_cal} met. Validation checks (not fitted): {n_val - miss_val} of
{n_val} agree. Intervals are 95 % (Wilson for proportions, Kaplan-Meier for medians, order statistics for the
median doses, Newcombe's paired interval for differences).</p>
<table><thead><tr><th>entry</th><th>published</th><th>simulated (95 % interval)</th><th>verdict</th><th>statistic, rule, note</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""


def markdown(results: Sequence[Mapping[str, Any]], prov: Mapping[str, Any]) -> str:
    """The scorecard as a Markdown section (what docs/validation.md shows from a full run).

    One table per kind (calibration targets, then validation checks), in registry order, with the run's date,
    model hash, patients and seed, and the counts met or agreeing.
    """
    def esc(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    n_cal = sum(r["kind"] == "calibration" for r in results)
    miss_cal = sum(r["kind"] == "calibration" and r["result"] == "miss" for r in results)
    n_val = len(results) - n_cal
    miss_val = sum(r["kind"] == "validation" and r["result"] == "miss" for r in results)
    lines = [f"il2sim {prov['package_version']}, model `{str(prov['model_hash'])[:16]}`, run {prov['date']}; "
             f"{prov['patients']} patients per trial (fewer where a simulation caps them), seed {prov['seed']}; "
             f"calibrated population of model `{str((prov.get('calibration') or {}).get('model_hash'))[:16]}`.", "",
             f"**Calibration targets: {n_cal - miss_cal} of {n_cal} met. Validation checks (not fitted): "
             f"{n_val - miss_val} of {n_val} agree.**", ""]
    for kind, title in (("calibration", "Calibration targets"), ("validation", "Validation checks (not fitted)")):
        rows = [r for r in results if r["kind"] == kind]
        if not rows:
            continue
        lines += [f"#### {title}", "", "| entry | published | simulated (95 % interval) | verdict | source; note |",
                  "|---|---|---|---|---|"]
        for r in rows:
            name, pub, sim, verdict = cells(r)
            verdict = f"**{verdict}**" if r["result"] == "miss" else verdict
            note = f"{r['source']}" + (f"; {r['note']}" if r.get("note") else "")
            lines.append(f"| `{esc(name)}` | {esc(pub)} | {esc(sim)} | {verdict} | {esc(note)} |")
        lines.append("")
    return "\n".join(lines)


def write_outputs(out_dir: str | Path, results: Sequence[Mapping[str, Any]], prov: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``validation.json``, ``validation.html`` and ``validation.md``; return the first two paths.

    ``validation.json`` is ``{"model_hash", "provenance", "entries": [result records]}`` (the contract's
    Validation section; each record as :func:`il2sim.validation.run_validation` returns it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"model_hash": prov["model_hash"], "provenance": dict(prov), "entries": list(results)}
    js, page = out / "validation.json", out / "validation.html"
    atomic_write_text(js, json.dumps(to_json_safe(doc), indent=1, sort_keys=False) + "\n")
    atomic_write_text(page, _html(results, prov))
    atomic_write_text(out / "validation.md", markdown(results, prov) + "\n")
    return js, page
