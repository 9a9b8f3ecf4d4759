"""Tumour dynamics over years, as issue 14 measures them (a validation tool; nothing here is fitted).

    python tools/tumour_dynamics.py [--patients N] [--indication melanoma] [--population calibrated|prior]

The same patients on high-dose aldesleukin under the pivotal rules, followed 156 weeks: best overall response
scored at 52 and at 156 weeks, what became of each response, when responses came, the SD/PD split, response
by growth-rate tertile, deaths; then the same patients at 720,000 IU/kg with every dose given (no holds, further
courses by the label's rule), 7 against 13 doses per cycle (Kammula 1998: response unchanged as doses fell
from 13 to 7).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp

import numpy as np

from il2sim.analysis import summarize
from il2sim.engine import simulate_batch
from il2sim.population import PopulationSpec, draw_patient
from il2sim.protocol import DoseBlock, Regimen, make_policy

WK = 168.0


def _regimen(doses: int) -> Regimen:
    return Regimen(f"720k-{doses}", tuple(DoseBlock(720_000.0, "iv", 15.0, 8.0, doses, d) for d in (1, 15)))


def _one(args: tuple) -> dict:
    indication, population, pid, arm, values = args
    np.seterr(all="ignore")
    spec = PopulationSpec(indication, source=population, parameters=tuple(values)) if values else \
        PopulationSpec(indication, source=population)
    patient = draw_patient(spec, 0, pid).patient
    if arm == "pivotal":
        res = simulate_batch([patient], "high-dose", days=156 * 7, policy=make_policy("pivotal"), follow_up_step_h=24.0)[0]
    else:
        res = simulate_batch([patient], _regimen(int(arm)), days=52 * 7, policy=make_policy("pivotal", holds=False),
                             follow_up_step_h=24.0)[0]
    out = {"pid": pid, "arm": arm, "ok": res.success,
           "doubling": patient.parameters.get("tumour_doubling_time", float("nan"))}
    if not res.success:
        return out
    s52 = summarize(res, follow_up_weeks=52)
    out["bor52"] = s52["best_overall_response"]
    out["ev52"] = s52["endpoints"]
    out["doses_first_course"] = s52["doses_first_course"]
    if arm == "pivotal":
        s156 = summarize(res, follow_up_weeks=156)
        out["bor156"] = s156["best_overall_response"]
        out["ev156"] = s156["endpoints"]
        scans = s52["recist"]["scans"]
        out["first_scan_change"] = scans[0]["sum_diameters_mm"] / s52["recist"]["baseline_sum_mm"] - 1 if scans else np.nan
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=240)
    ap.add_argument("--indication", default="melanoma")
    ap.add_argument("--population", default="calibrated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="typical value of a parameter (prior population only)")
    a = ap.parse_args()
    values = [(k, float(v)) for k, v in (x.split("=") for x in a.set)]
    jobs = [(a.indication, a.population, i, arm, values) for arm in ("pivotal", "13", "7") for i in range(a.patients)]
    with mp.get_context("spawn").Pool(a.workers) as pool:
        rows = pool.map(_one, jobs, chunksize=4)
    piv = [r for r in rows if r["arm"] == "pivotal" and r["ok"]]
    n = len(piv)

    def rate(rs, key, cats):
        return 100.0 * sum(r[key] in cats for r in rs) / max(len(rs), 1)

    print(f"{a.indication}, {a.population} population, {n} patients, high-dose under the pivotal rules")
    for key in ("bor52", "bor156"):
        print(f"  BOR {key[3:]} wk: CR {rate(piv, key, ('CR',)):.1f}%  PR {rate(piv, key, ('PR',)):.1f}%  "
              f"SD {rate(piv, key, ('SD',)):.1f}%  PD {rate(piv, key, ('PD',)):.1f}%  NE {rate(piv, key, ('NE',)):.1f}%")
    pr52 = [r for r in piv if r["bor52"] == "PR"]
    cr52 = [r for r in piv if r["bor52"] == "CR"]
    print(f"  of {len(pr52)} PRs at 52 wk: {sum(r['bor156'] == 'CR' for r in pr52)} became CR by 156 wk, "
          f"{sum(r['ev156']['progressed'] for r in pr52)} progressed or died")
    print(f"  of {len(cr52)} CRs at 52 wk: {sum(r['ev156']['progressed'] for r in cr52)} progressed or died by 156 wk")
    resp = [r for r in piv if r["bor156"] in ("CR", "PR")]
    if resp:
        wk = np.array([r["ev156"]["response_week"] for r in resp], dtype=float)
        print(f"  responders (156 wk): {len(resp)}; median first confirmed response week {np.median(wk):.0f}; "
              f"at the first scan {int(np.sum(wk <= 8.01))}")
        for cat in ("CR", "PR"):
            d = [r["ev156"] for r in resp if r["bor156"] == cat]
            if d:
                dur = np.array([e["response_duration_weeks"] for e in d], dtype=float)
                ev = np.array([e["response_duration_event"] for e in d])
                print(f"    {cat}: n {len(d)}, ended {int(ev.sum())}, duration weeks (observed) median {np.median(dur):.0f}")
    chg = np.array([r["first_scan_change"] for r in piv], dtype=float)
    print(f"  change at the first scan: median {100 * np.nanmedian(chg):.1f}%")
    died = [r for r in piv if r["ev156"]["died"]]
    os_wk = np.array([r["ev156"]["os_weeks"] for r in piv])
    print(f"  deaths by 156 wk: {len(died)} (treatment {sum(r['ev156']['death_cause'] == 'treatment' for r in died)}); "
          f"median OS (observed, weeks) {np.median(os_wk):.0f}; alive at 52 wk {100 * np.mean(os_wk > 52):.0f}%")
    print(f"  median first-course doses {np.median([r['doses_first_course'] for r in piv]):.0f}")
    dt = np.array([r["doubling"] for r in piv], dtype=float)
    if np.all(np.isfinite(dt)):
        q = np.quantile(dt, [1 / 3, 2 / 3])
        for lab, m in (("fastest", dt <= q[0]), ("middle", (dt > q[0]) & (dt <= q[1])), ("slowest", dt > q[1])):
            sub = [r for r, k in zip(piv, m) if k]
            print(f"  growth tertile {lab}: ORR {rate(sub, 'bor52', ('CR', 'PR')):.1f}%")
    for arm in ("13", "7"):
        rs = [r for r in rows if r["arm"] == arm and r["ok"]]
        print(f"  720,000 IU/kg, {arm} doses per cycle, no holds: ORR {rate(rs, 'bor52', ('CR', 'PR')):.1f}% "
              f"(CR {rate(rs, 'bor52', ('CR',)):.1f}%)")


if __name__ == "__main__":
    main()
