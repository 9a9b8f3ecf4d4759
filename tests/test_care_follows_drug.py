"""Care, monitoring and holds follow the drug: a continuous infusion is cared for while it runs.

Issue 18: a 5-day continuous infusion at 300,000 IU/kg/day used to get no
supportive care after 24 h (care was anchored on dose *start* times) and ran
with MAP below 40 mmHg for days, reported as success.
"""

from __future__ import annotations

import numpy as np
import pytest

from il2sim.analysis import summarize
from il2sim.engine import simulate_fast
from il2sim.model import typical_patient
from il2sim.protocol import DoseBlock, GiveAllPolicy, Regimen, make_policy

CIV5 = Regimen(name="civ-5-day", blocks=(DoseBlock(1_500_000.0, "iv", 5 * 24 * 60.0, 24.0, 1, 1),))


@pytest.fixture(scope="module")
def civ_runs():
    p = typical_patient("melanoma")
    return {
        "pivotal": simulate_fast(p, CIV5, days=14, policy=make_policy("pivotal")),
        "consensus": simulate_fast(p, CIV5, days=14, policy=make_policy("consensus")),
        "none": simulate_fast(p, CIV5, days=14, policy=GiveAllPolicy()),
    }


def _hours(mask: np.ndarray, step_h: float = 0.25) -> float:
    return float(mask.sum()) * step_h


def test_continuous_infusion_is_monitored_and_cared_for_while_it_runs(civ_runs):
    r = civ_runs["pivotal"]
    t = r.t
    # vitals every 4 h through the whole infusion (0-120 h) and 48 h beyond its end
    checks = np.array([d[0] for d in r.decisions])
    assert np.all(np.diff(checks[(checks >= 0) & (checks <= 168.0)]) <= 4.0 + 1e-9)
    assert checks.max() >= 168.0 - 1e-9
    # care runs on days 2-5: maintenance fluid and premedication while the drug runs
    running = (t > 24.0) & (t < 120.0)
    assert np.all(r.control("fluid_maintenance_ml_h")[running] == 25.0)
    assert np.all(r.control("acetaminophen")[running] == 1.0)
    assert _hours(r.control("fluid_bolus_ml_h")[running] > 0) > 0  # boluses are given after the first day
    mapp = r.observables["map_mmhg"]
    assert mapp.min() > 55.0
    assert summarize(r)["status"]["out_of_domain"] == []


def test_without_care_the_same_infusion_leaves_the_model_domain(civ_runs):
    """The reference the care is measured against: no care, the patient is in profound shock for days."""
    mapp = civ_runs["none"].observables["map_mmhg"]
    assert _hours(mapp < 40.0) > 24.0
    assert "profound_shock" in summarize(civ_runs["none"])["status"]["out_of_domain"]


def test_a_rule_met_during_a_continuous_infusion_interrupts_it(civ_runs):
    r = civ_runs["consensus"]
    (rec,) = r.doses
    assert rec.given and rec.interrupted_h is not None and rec.interrupted_by.startswith("consensus_")
    assert 0.0 < rec.fraction_given < 1.0
    assert rec.fraction_given == pytest.approx(rec.interrupted_h / 120.0)
    # the drug input ends at the interruption, and the plasma level falls from then on
    rate = r.control("drug_iv_rate")
    assert np.all(rate[r.t < rec.interrupted_h - 1e-9] > 0)
    assert np.all(rate[r.t >= rec.interrupted_h + 1e-9] == 0)
    conc = r.observables["aldesleukin_plasma_iu_per_ml"]
    after = r.t >= rec.interrupted_h + 6.0
    assert conc[after].max() < 0.05 * conc[r.t <= rec.interrupted_h].max()
    # the dosing record and the summary say so; the contract columns keep it as given
    table = r.doses_table()
    row = table.iloc[0]
    assert bool(row["given"]) and row["held_by"] == "" and row["interrupted_h"] == rec.interrupted_h
    assert row["interrupted_by"] == rec.interrupted_by and row["fraction_given"] == rec.fraction_given
    (entry,) = summarize(r)["interruptions"]
    assert entry["rule"] == rec.interrupted_by
    # care lasts 24 h past the interruption, not past the scheduled end of the infusion
    maint = r.control("fluid_maintenance_ml_h")
    assert np.all(maint[(r.t > rec.interrupted_h) & (r.t < rec.interrupted_h + 23.9)] == 25.0)
    assert np.all(maint[r.t > rec.interrupted_h + 24.0 + 4.0 + 1e-9] == 0.0)


def test_without_holds_nothing_is_interrupted():
    r = simulate_fast(typical_patient("melanoma"), CIV5, days=7, policy=make_policy("consensus", holds=False))
    (rec,) = r.doses
    assert rec.given and rec.interrupted_h is None and rec.fraction_given == 1.0
    assert np.all(r.control("drug_iv_rate")[r.t < 120.0 - 1e-9] > 0)
