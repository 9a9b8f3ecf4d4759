"""The calibration fit report as Markdown (written next to ``fit-report.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_markdown"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _row(t: dict[str, Any]) -> str:
    if t["key"] == "doses:median":
        fmt = lambda x: f"{x:g}"  # noqa: E731
        acc, wil = f"{t['low']:g}-{t['high']:g} ({t['criterion']})", ""
    else:
        fmt = _pct
        acc = f"{_pct(t['low'])}-{_pct(t['high'])} ({t['criterion']})"
        wil = f"{_pct(t['wilson_trial_1000'][0])}-{_pct(t['wilson_trial_1000'][1])}"
    met = "-" if t["met"] is None else ("yes" if t["met"] else "NO")
    return (f"| {t['key']} | {fmt(t['target'])} (n = {t['n']}) | {acc} | {fmt(t['prior_pool'])} | "
            f"{fmt(t['weighted_pool'])} | {fmt(t['trial_1000'])} | {wil} | {met} |")


def write_markdown(report: dict[str, Any], path: str | Path) -> None:
    """Write the human-readable fit report."""
    prov = report["provenance"]
    lines = ["# il2sim calibration fit report", "",
             f"il2sim {prov['il2sim_version']}, model `{prov['model_hash'][:16]}`, created {prov['created']}.", "",
             f"Stage 1: {prov['method']['stage1']}. Stage 2: {prov['method']['stage2']}.",
             f"Regimen `{prov['method']['regimen']}`, rules `{prov['method']['rules']}`, supportive care, "
             f"{prov['method']['follow_up_weeks']:g} weeks of follow-up. Settings: "
             + ", ".join(f"{k} = {v}" for k, v in prov["settings"].items()) + ".", "",
             "## Stage 1: population-level parameters", "",
             "| parameter | indication | prior | fitted | unit | target it is paired with |",
             "|---|---|---|---|---|---|"]
    for p in report["fitted_parameters"]:
        lines.append(f"| `{p['name']}` | {p['indication']} | {p['prior']:.4g} | {p['fitted']:.4g} | {p['unit']} | "
                     f"{p['target']} |")
    if report["stage1_history"]:
        last = report["stage1_history"][-1]
        lines += ["", f"Stage 1 ran {len(report['stage1_history'])} cohort evaluations; at the last, the largest "
                  f"error of a paired target was {_pct(last['max_abs_error'])}.", ""]
    header = ["| target | published | acceptance | prior pool | weighted pool | trial (n = 1,000) | "
              "Wilson 95 % (trial) | met |", "|---|---|---|---|---|---|---|---|"]
    for ind, r in report["indications"].items():
        lines += ["", f"## Stage 2: {ind}", "",
                  f"Pool of {r['pool_patients']} patients ({r['failed']} failed); effective sample size of the "
                  f"weights {r['effective_sample_size']:.0f}. 'Trial' is a default-seed trial of 1,000 patients "
                  "drawn from the weighted pool (each pool patient's outcome is its simulated one). Adverse events "
                  "are shown per indication for information; the label pooled both (next table).", ""] + header
        lines += [_row(t) for t in r["targets"]]
    lines += ["", "## Label incidences, both indications pooled as in the label (270 melanoma + 255 RCC)", ""] + header
    lines += [_row(t) for t in report["pooled_adverse_events"]]
    if report.get("biology_checks"):
        lines += ["", "## Non-outcome checks (not fitted)", "", "| check | observed | simulated |", "|---|---|---|"]
        lines += [f"| {c['check']} | {c['observed_in_trials']} | {c['simulated']:.3g} |" for c in report["biology_checks"]]
    sens = report.get("sensitivity", {})
    if sens and "error" not in sens:
        lines += ["", "## What the targets inform (RBD-FAST first-order indices on the prior pool)", ""]
        for ind, s in sens.items():
            lines += [f"### {ind}", "", "| outcome | most informative inputs (S1) |", "|---|---|"]
            for key, v in s["indices"].items():
                lines.append(f"| {key} | " + ", ".join(f"`{n}` {x:.2f}" for n, x in v["top"]) + " |")
            lines.append("")
    elif sens:
        lines += ["", f"Sensitivity analysis failed: {sens['error']}"]
    Path(path).write_text("\n".join(lines) + "\n")
