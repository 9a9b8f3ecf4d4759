"""Durability, survival and dose-count checks of issue 14, simulated against what was published.

    python tools/survival_validation.py [--patients 1000] [--out DIR] [--workers 2]

Runs, through the ordinary trial machinery (``il2sim.trial.run_trial``, the calibrated population):

1. each indication on high-dose aldesleukin under the pivotal rules, followed 520 weeks (10 years);
2. the first 240 melanoma patients at 720,000 IU/kg, every dose given (no holds; further courses by the
   label's rule), 7 against 13 doses per cycle, followed 52 weeks;
3. each indication at 720,000 IU/kg under the consensus rules (the NCI's later practice), followed 52 weeks,
   for the treatment-related deaths.

and prints one markdown table: published value with its 95 % interval, simulated value with its 95 %
interval, inside or not. None of these numbers was a calibration target (the targets are the pivotal
ORR/CR/PR, the label incidences and the median doses: calibration/data/targets.toml).

Intervals of the published medians are approximations where the papers' own were not read: for a median
with d events, median x exp(+-1.96 / sqrt(d)) (exponential approximation), d from the responders or
patients and their stated outcomes; each row says so.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from il2sim.analysis import km_endpoint, wilson_interval
from il2sim.protocol import DoseBlock, Regimen, make_policy
from il2sim.trial import Arm, TrialSpec, run_trial

MONTH_WK = 365.25 / 12 / 7


def _approx_ci(median: float, events: int) -> tuple[float, float]:
    h = 1.96 / math.sqrt(events)
    return median * math.exp(-h), median * math.exp(h)


def _km(df: pd.DataFrame, dur: str, event: str) -> dict:
    d = df[np.isfinite(df[dur].to_numpy(dtype=float))]
    return km_endpoint(d[dur].to_numpy(dtype=float), d[event].to_numpy(dtype=bool))


def _median_text(e: dict) -> str:
    m, ci = e["median_months"], e["ci95"]
    if m is None:
        lo = "n/a" if not ci or ci[0] is None else f"{ci[0]:.1f}"
        return f"not reached (lower 95 % bound {lo}; n {e['n']}, events {e['events']})"
    lo, hi = (ci or [None, None])
    f = lambda x: "NR" if x is None else f"{x:.1f}"
    return f"{m:.1f} ({f(lo)}-{f(hi)}; n {e['n']}, events {e['events']})"


def _inside(e: dict, lo: float, hi: float | None) -> str:
    m, ci = e["median_months"], e["ci95"] or [None, None]
    if hi is None:  # "not reached, at least lo"
        ok = m is None or m >= lo
        return "yes" if ok else "**no**"
    if m is None:
        return "**no** (not reached)"
    a = ci[0] if ci[0] is not None else m
    b = ci[1] if ci[1] is not None else math.inf
    return "yes" if (a <= hi and b >= lo) else "**no**"


def _rate_row(k: int, n: int) -> tuple[float, float, float]:
    lo, hi = wilson_interval(k, n)
    return k / n, lo, hi


def _overlap(sim: tuple[float, float, float], lo: float, hi: float) -> str:
    return "yes" if sim[1] <= hi and sim[2] >= lo else "**no**"


def run(patients: int, out: Path, workers: int) -> list[str]:
    rows: list[str] = ["| check | published (95 % interval) | simulated (95 % interval) | agrees |", "|---|---|---|---|"]
    tables = {}
    for ind in ("melanoma", "rcc"):
        spec = TrialSpec(indication=ind, arms=("high-dose",), n_patients=patients, seed=14, follow_up_weeks=520.0,
                         protocol=make_policy("pivotal"))
        run_trial(spec, out / f"{ind}-high-dose", resume=True, workers=workers)
        tables[ind] = pd.read_parquet(out / f"{ind}-high-dose" / "patients.parquet")
    n240 = min(240, patients)
    arms = tuple(Arm(Regimen(f"720k-{k}-per-cycle", tuple(DoseBlock(720_000.0, "iv", 15.0, 8.0, k, d) for d in (1, 15))))
                 for k in (13, 7))
    spec = TrialSpec(indication="melanoma", arms=arms, n_patients=n240, seed=14, follow_up_weeks=52.0,
                     protocol=make_policy("pivotal", holds=False))
    summary = run_trial(spec, out / "melanoma-7-vs-13", resume=True, workers=workers)
    modern = {}
    for ind in ("melanoma", "rcc"):  # Kammula 1998: the NCI's later practice, 720,000 IU/kg, stopping earlier
        spec = TrialSpec(indication=ind, arms=("high-dose-720",), n_patients=patients, seed=14, follow_up_weeks=52.0,
                         protocol=make_policy("consensus"))
        run_trial(spec, out / f"{ind}-consensus", resume=True, workers=workers)
        modern[ind] = pd.read_parquet(out / f"{ind}-consensus" / "patients.parquet")

    published = {
        "melanoma": dict(dor_all=(8.9, 31, "Atkins 2000: 43 responders, 12 progression-free (31 events)"),
                         dor_pr=(5.9, 26, "Atkins 1999: 26 PRs"),
                         dor_cr_at_least=59.0, os=(12.0, 239, "Atkins 2000: 31 of 270 alive"),
                         alive=(84, 31, 270, "alive at 7 years (Atkins 2000: 31 of 270, 11 %; follow-up > 7 years)"),
                         trd=(6, 270, "Atkins 1999 / label: 6 of 270")),
        "rcc": dict(dor_all=(54.0, 20, "Fisher 2000: 37 responders (events not read; about 20 assumed)"),
                    dor_pr=(20.0, 20, "Fisher 2000: 20 PRs"),
                    dor_cr_at_least=80.0, os=(16.3, 220, "Fisher 2000: 255 patients, 10-20 % alive at 5-10 years"),
                    alive=(60, None, None, "alive at 5 years: 10-20 % (Fisher 2000, 5-10 years)"),
                    trd=(11, 255, "label: 11 of 255")),
    }
    for ind, df in tables.items():
        ok = df[df["status"] == "ok"]
        pub = published[ind]
        resp = ok[ok["best_overall_response"].isin(["CR", "PR"])]
        e_all = _km(resp, "response_duration_weeks", "response_duration_event")
        m, d, src = pub["dor_all"]
        lo, hi = _approx_ci(m, d)
        rows.append(f"| {ind}: median duration of response, all responders (months) | {m} ({lo:.1f}-{hi:.1f} [D]); "
                    f"{src} | {_median_text(e_all)} | {_inside(e_all, lo, hi)} |")
        e_pr = _km(resp[resp["best_overall_response"] == "PR"], "response_duration_weeks", "response_duration_event")
        m, d, src = pub["dor_pr"]
        lo, hi = _approx_ci(m, d)
        rows.append(f"| {ind}: median duration of PR (months) | {m} ({lo:.1f}-{hi:.1f} [D]); {src} | {_median_text(e_pr)} "
                    f"| {_inside(e_pr, lo, hi)} |")
        e_cr = _km(resp[resp["best_overall_response"] == "CR"], "response_duration_weeks", "response_duration_event")
        rows.append(f"| {ind}: median duration of CR (months) | not reached, at least {pub['dor_cr_at_least']:g} | "
                    f"{_median_text(e_cr)} | {_inside(e_cr, pub['dor_cr_at_least'], None)} |")
        e_os = _km(ok, "os_weeks", "died")
        m, d, src = pub["os"]
        lo, hi = _approx_ci(m, d)
        rows.append(f"| {ind}: median overall survival (months) | {m} ({lo:.1f}-{hi:.1f} [D]); {src} | {_median_text(e_os)} "
                    f"| {_inside(e_os, lo, hi)} |")
        months, k, n, src = pub["alive"]
        alive = int(np.sum(ok["os_weeks"].to_numpy() >= months * MONTH_WK - 1e-9))
        sim = _rate_row(alive, len(ok))
        if k is None:
            plo, phi, ptxt = 0.10, 0.20, "10-20 %"
        else:
            _, plo, phi = _rate_row(k, n)
            ptxt = f"{100 * k / n:.0f} % ({100 * plo:.0f}-{100 * phi:.0f} %)"
        rows.append(f"| {ind}: {src.split(' (')[0]} | {ptxt}; {src} | {100 * sim[0]:.1f} % ({100 * sim[1]:.1f}-"
                    f"{100 * sim[2]:.1f} %) | {_overlap(sim, plo, phi)} |")
        k, n, src = pub["trd"]
        _, plo, phi = _rate_row(k, n)
        trd = int((ok["death_cause"] == "treatment").sum())
        sim = _rate_row(trd, len(ok))
        rows.append(f"| {ind}: treatment-related deaths | {100 * k / n:.1f} % ({100 * plo:.1f}-{100 * phi:.1f} %); {src} | "
                    f"{100 * sim[0]:.1f} % ({100 * sim[1]:.1f}-{100 * sim[2]:.1f} %) | {_overlap(sim, plo, phi)} |")
        if ind == "rcc":
            pr = resp[resp["best_overall_response"] == "PR"]
            cr = resp[resp["best_overall_response"] == "CR"]
            _, plo, phi = _rate_row(4, 23)
            sim = _rate_row(int(cr["response_duration_event"].sum()), max(len(cr), 1))
            rows.append(f"| rcc: complete responders who relapsed or died by 10 years | 4 of 23 (17 %, {100 * plo:.0f}-"
                        f"{100 * phi:.0f} %); Klapper 2008 | {int(cr['response_duration_event'].sum())} of {len(cr)} "
                        f"({100 * sim[1]:.0f}-{100 * sim[2]:.0f} %) | {_overlap(sim, plo, phi)} |")
            rows.append(f"| rcc: partial responders who relapsed or died by 10 years | all 30; Klapper 2008 | "
                        f"{int(pr['response_duration_event'].sum())} of {len(pr)} | "
                        f"{'yes' if pr['response_duration_event'].mean() >= 0.9 else '**no**'} |")
        orr = ok["best_overall_response"].isin(["CR", "PR"]).mean()
        rows.append(f"| {ind}: ORR at 10 years of follow-up (calibrated at 52 weeks) | calibration target | "
                    f"{100 * orr:.1f} % | (stability) |")
    s13 = summary["arms"]["720k-13-per-cycle"]
    s7 = summary["arms"]["720k-7-per-cycle"]
    diff = 100 * (s13["orr"] - s7["orr"])
    rows.append(f"| melanoma, same {n240} patients: ORR 13 vs 7 doses per cycle | unchanged as median first-cycle doses "
                f"fell 13 -> 7 (Kammula 1998, P = 0.40); issue 14: within 5 points | {100 * s13['orr']:.1f} % vs "
                f"{100 * s7['orr']:.1f} % ({diff:+.1f} points) | {'yes' if abs(diff) <= 5 else '**no**'} |")
    g13, g7 = s13["incidence_grade3plus"].get("hypotension"), s7["incidence_grade3plus"].get("hypotension")
    rows.append(f"| melanoma: grade >= 3 hypotension 13 vs 7 doses per cycle | toxicity still differs | "
                f"{100 * (g13 or 0):.1f} % vs {100 * (g7 or 0):.1f} % | {'yes' if (g13 or 0) > (g7 or 0) else '**no**'} |")
    both = pd.concat(modern.values())
    both = both[both["status"] == "ok"]
    k = int((both["death_cause"] == "treatment").sum())
    sim = _rate_row(k, len(both))
    _, plo, phi = _rate_row(0, 809)
    rows.append(f"| melanoma and RCC, 720,000 IU/kg under the consensus rules: treatment-related deaths | 0 of 809 "
                f"(0-{100 * phi:.1f} %); Kammula 1998, the NCI's final patients | {k} of {len(both)}, {100 * sim[0]:.1f} % "
                f"({100 * sim[1]:.1f}-{100 * sim[2]:.1f} %) | {_overlap(sim, plo, phi)} |")
    med = float(both["doses_first_course"].median())
    rows.append(f"| the same: median first-course doses | about 7 in the first cycle (Kammula 1998) | {med:.0f} in the "
                f"first course | (context) |")
    (out / "survival-validation.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--out", default="survival-validation")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    np.seterr(all="ignore")
    for line in run(a.patients, Path(a.out), a.workers):
        print(line)


if __name__ == "__main__":
    main()
