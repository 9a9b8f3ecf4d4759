"""Fast engine against the reference engine on virtual patients: the clinical outcomes must agree.

For each patient both engines run the `pivotal` protocol on the label
high-dose regimen at their default settings; best overall response (RECIST
1.1), doses given and the CTCAE worst grade of every term must be identical.
The default run checks 100 patients (50 melanoma, 50 RCC) over 24 weeks of
follow-up (three scans, so responses can be confirmed, and the retreatment
decision); the `slow` suite checks 1,000 over the full 52 weeks and allows the
0.1 % the issue allows. A mismatch is reported with its decision margins: the
first decision that differs with the observables the two engines saw there,
or the scans, or the signals behind a grade.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from il2sim.analysis import summarize
from il2sim.engine import simulate, simulate_batch
from il2sim.population import PopulationSpec, draw_patient
from il2sim.protocol import NAMED_REGIMENS, make_policy

SEED = 0
REGIMEN = NAMED_REGIMENS["high-dose"]


def _keys(n: int) -> list[tuple[str, int]]:
    half = n // 2
    return [("melanoma", i) for i in range(half)] + [("rcc", i) for i in range(n - half)]


def _patient(key):
    return draw_patient(PopulationSpec(key[0], source="prior"), SEED, key[1]).patient


SIGNALS = ("sbp_mmhg", "map_mmhg", "creatinine_mg_dl", "urine_ml_per_h", "temperature_c")


def _outcome(result, weeks):
    """What is compared, plus what a failure report needs (observables at the decision times only)."""
    s = summarize(result, follow_up_weeks=weeks)
    obs = result.observables
    at = [int(np.argmin(np.abs(result.t - t))) for t, _ in result.decisions]
    return {"bor": s["best_overall_response"], "doses": [d.given for d in result.doses],
            "grades": dict(s["worst_grade"]), "scans": [round(x["sum_diameters_mm"], 3) for x in s["recist"].get("scans", [])],
            "decisions": [(t, (d.dose, d.rule_id, dict(d.controls), d.infusions)) for t, d in result.decisions],
            "at_decisions": {n: v[at] for n, v in obs.items()},
            "extremes": {n: (float(obs[n].min()), float(obs[n].max())) for n in SIGNALS}}


def _reference_job(args):
    key, weeks = args
    return _outcome(simulate(_patient(key), REGIMEN, days=weeks * 7, policy=make_policy("pivotal")), weeks)


def _margins(i, ro, fo) -> str:
    """Where and by how much the two runs of patient ``i`` part."""
    rdec, fdec = ro["decisions"], fo["decisions"]
    lines = [f"patient {i}: reference {ro['bor']}, {sum(ro['doses'])} doses; fast {fo['bor']}, {sum(fo['doses'])} doses"]
    for k, ((t1, d1), (t2, d2)) in enumerate(zip(rdec, fdec)):
        if d1 != d2:
            rel = {n: (ro["at_decisions"][n][k], fo["at_decisions"][n][k]) for n in ro["at_decisions"]}
            worst = sorted(rel.items(), key=lambda kv: -abs(kv[1][0] - kv[1][1]) / max(abs(kv[1][0]), 1e-9))[:6]
            lines.append(f"  first differing decision at t = {t1:g} h (dose, rule, controls, infusions): "
                         f"reference {d1} vs fast {d2}")
            lines.append("  observables there (reference, fast): "
                         + ", ".join(f"{n}={a:.6g}/{b:.6g}" for n, (a, b) in worst))
            break
    if ro["bor"] != fo["bor"]:
        lines.append(f"  scans (sum of diameters, mm): reference {ro['scans']} vs fast {fo['scans']}")
    diff = {t: (ro["grades"].get(t), fo["grades"].get(t)) for t in set(ro["grades"]) | set(fo["grades"])
            if ro["grades"].get(t) != fo["grades"].get(t)}
    if diff:
        lines.append(f"  grades (reference, fast): {diff}; extremes: "
                     + ", ".join(f"{n} {ro['extremes'][n][0]:.5g}..{ro['extremes'][n][1]:.5g} / "
                                 f"{fo['extremes'][n][0]:.5g}..{fo['extremes'][n][1]:.5g}" for n in SIGNALS))
    return "\n".join(lines)


def _compare(n: int, weeks: float, allowed: int) -> None:
    keys = _keys(n)
    workers = max(1, min(2, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        ref = list(pool.map(_reference_job, [(k, weeks) for k in keys], chunksize=4))
    fast: list = [None] * n
    simulate_batch([_patient(k) for k in keys], REGIMEN, days=weeks * 7, policy=make_policy("pivotal"),
                   on_result=lambda i, res: fast.__setitem__(i, _outcome(res, weeks)))
    key = lambda o: (o["bor"], o["doses"], o["grades"])  # noqa: E731
    bad = [i for i in range(n) if key(ref[i]) != key(fast[i])]
    report = "\n".join(_margins(i, ref[i], fast[i]) for i in bad)
    assert len(bad) <= allowed, f"{len(bad)} of {n} patients differ (allowed {allowed}):\n{report}"
    # the comparison is not vacuous: the protocol held doses and outcomes vary
    assert any(sum(r["doses"]) < len(r["doses"]) for r in ref)
    assert len({r["bor"] for r in ref}) >= 2


def test_fast_engine_reproduces_reference_outcomes_100_patients():
    _compare(100, weeks=24, allowed=0)


@pytest.mark.slow
def test_fast_engine_reproduces_reference_outcomes_1000_patients():
    _compare(1000, weeks=52, allowed=1)
