"""Per-patient time-to-event endpoints, the restaging schedule, the output grid and death ending a run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from il2sim.analysis import SCAN_SCHEDULE, Scan, follow_up_scan_times_h, scan_times_h, time_to_events
from il2sim.engine._driver import OutputGrid

WK = 168.0


def test_schedule_first_year_is_the_contract_schedule():
    np.testing.assert_array_equal(follow_up_scan_times_h(52), scan_times_h(52))
    assert SCAN_SCHEDULE[0] == (48.0, 8.0)


def test_schedule_long_follow_up():
    weeks = follow_up_scan_times_h(260) / WK
    expected = [8, 16, 24, 32, 40, 48] + list(range(60, 157, 12)) + list(range(180, 261, 24))
    np.testing.assert_allclose(weeks, expected)
    assert follow_up_scan_times_h(520)[-1] / WK == 516
    assert len(follow_up_scan_times_h(7)) == 0


def _scans(sums, weeks=None):
    weeks = weeks or [8 * (k + 1) for k in range(len(sums))]
    return [Scan(w * WK, s, all_targets_absent=(s == 0)) for w, s in zip(weeks, sums)]


def test_responder_who_progresses():
    # baseline 100: PR at 8 and 16 (confirmed), nadir 40 at 24, PD at 32 (48 >= 1.2 * 40 and +8 mm)
    ev = time_to_events(100.0, _scans([60, 50, 40, 48]), end_h=52 * WK)
    assert ev["best_overall_response"] == "PR"
    assert ev["response_week"] == 8
    assert ev["progressed"] and ev["pfs_event"] == "progression" and ev["pfs_weeks"] == 32
    assert ev["response_duration_weeks"] == 24 and ev["response_duration_event"]
    assert not ev["died"] and ev["os_weeks"] == pytest.approx(52) and ev["death_cause"] == ""


def test_ongoing_complete_response_is_censored_at_the_last_scan():
    ev = time_to_events(100.0, _scans([60, 0, 0, 0, 0, 0]), end_h=52 * WK)
    assert ev["best_overall_response"] == "CR"
    # the response starts at the first PR scan, not at the CR
    assert ev["response_week"] == 8
    assert not ev["response_duration_event"] and ev["response_duration_weeks"] == 40
    assert not ev["progressed"] and ev["pfs_weeks"] == 48


def test_unconfirmed_response_is_not_a_response():
    ev = time_to_events(100.0, _scans([60, 71, 100]), end_h=30 * WK)
    assert ev["best_overall_response"] == "SD"
    assert math.isnan(ev["response_week"]) and math.isnan(ev["response_duration_weeks"])
    assert ev["pfs_weeks"] == 24 and ev["progressed"]


def test_death_before_progression_is_a_pfs_event():
    ev = time_to_events(100.0, _scans([90, 95]), end_h=20 * WK, death_h=20 * WK, death_cause="disease")
    assert ev["died"] and ev["death_cause"] == "disease" and ev["os_weeks"] == 20
    assert ev["progressed"] and ev["pfs_event"] == "death" and ev["pfs_weeks"] == 20


def test_progression_before_death_dates_pfs_at_the_scan():
    ev = time_to_events(100.0, _scans([130]), end_h=12 * WK, death_h=12 * WK, death_cause="disease")
    assert ev["pfs_event"] == "progression" and ev["pfs_weeks"] == 8 and ev["os_weeks"] == 12


def test_death_before_any_scan():
    ev = time_to_events(100.0, [], end_h=3 * WK, death_h=3 * WK, death_cause="treatment")
    assert ev["best_overall_response"] == "NE"
    assert ev["died"] and ev["death_cause"] == "treatment" and ev["pfs_event"] == "death" and ev["pfs_weeks"] == 3


def test_output_grid_fine_inside_windows_coarse_outside():
    windows = [(0.0, 10.0)]
    g = OutputGrid(0.5, 4.0, windows)
    pts = g.points(0.0, 30.0)
    np.testing.assert_allclose(pts, list(np.arange(0, 10.01, 0.5)) + [12.0, 16.0, 20.0, 24.0, 28.0])
    # points depend only on time, not on where a segment is cut
    cut = np.concatenate([g.points(0.0, 7.3), g.points(7.3, 13.0), g.points(13.0, 30.0)])
    np.testing.assert_array_equal(cut, pts)
    windows.append((25.0, 26.0))  # a later course adds a window
    assert 25.5 in g.points(20.0, 30.0)
    assert list(OutputGrid(0.5, None, []).points(0.0, 2.0)) == [0.0, 0.5, 1.0, 1.5]


# ------------------------------------------------------------------ the mechanisms behind the endpoints
from il2sim.analysis import death, summarize  # noqa: E402
from il2sim.engine import simulate_fast  # noqa: E402
from il2sim.model import typical_patient  # noqa: E402
from il2sim.protocol import DoseBlock, GiveAllPolicy, NoTreatmentPolicy, Regimen, make_policy  # noqa: E402


def _course(doses: int) -> Regimen:
    return Regimen(f"720k-{doses}", tuple(DoseBlock(720_000.0, "iv", 15.0, 8.0, doses, d) for d in (1, 15)))


def test_later_doses_of_a_cycle_add_little_tumour_specific_expansion():
    """The first doses drain the precursor pool: 13 doses a cycle expand tumour-specific effectors barely more
    than 7, while the drug exposure nearly doubles (Kammula 1998: response unchanged as doses fell 13 -> 7)."""
    p = typical_patient("melanoma")
    runs = {n: simulate_fast(p, _course(n), days=42, policy=GiveAllPolicy()) for n in (1, 7, 13)}
    peak = {n: float(r.observables["tumour_specific_effectors"].max()) for n, r in runs.items()}
    assert peak[1] > 1.5  # one dose already expands them
    assert peak[13] / peak[7] < 1.15
    assert peak[7] / peak[1] > 1.3  # but not from the first dose alone
    precursors = runs[7].state("tsp_precursor")
    assert precursors.min() < 0.2 * precursors[0]  # drained within the cycle


def test_partial_response_regrows_from_the_escaped_subclone():
    """A lesion whose escaped subclone is large shrinks and regrows; without it the same kill empties it."""
    kw = dict(kill_max=0.03, kill_sensitivity=1.0)
    out = {}
    for f in (0.2, 0.0):
        r = simulate_fast(typical_patient("melanoma", resistant_fraction=f, **kw), "high-dose", days=364,
                          policy=make_policy("pivotal", holds=False), follow_up_step_h=24.0, stop_at_death=False)
        out[f] = r.observables["tumour_sum_diameters_mm"]
    sld = out[0.2]
    k = int(np.argmin(sld))
    assert sld[k] < 0.7 * sld[0] and sld[-1] > 1.2 * sld[k]  # a response, then regrowth past the PD line
    assert out[0.0][-1] < 0.5 * out[0.0][0]  # still responding a year on


def test_disease_death_ends_the_run_and_is_dated():
    p = typical_patient("melanoma", lethal_tumour_burden=400.0)  # 3 x 24.5 mL of disease at diagnosis
    r = simulate_fast(p, "high-dose", days=728, policy=NoTreatmentPolicy(), follow_up_step_h=24.0)
    died_h, cause = death(r)
    assert cause == "disease" and r.provenance["ended_by"] == "died:disease"
    assert died_h is not None and r.t[-1] - died_h <= 7 * 24.0 + 1e-6  # ended within a week
    # the untreated tumour doubles every 60 days: 400 / (3 * 24.5) takes about 2.4 doublings (growth speeds up)
    assert 90 < died_h / 24 < 160
    ev = summarize(r, follow_up_weeks=104)["endpoints"]
    assert ev["died"] and ev["death_cause"] == "disease" and ev["os_weeks"] == pytest.approx(died_h / WK)
    assert ev["progressed"]


def test_a_probe_without_care_runs_past_a_death_index():
    r = simulate_fast(typical_patient("melanoma"), "high-dose", days=21, policy=GiveAllPolicy())
    assert r.t[-1] == 21 * 24.0 and r.provenance["ended_by"] == ""


def test_treatment_death_during_dosing_gives_no_later_dose():
    p = typical_patient("melanoma", shock_tolerance=5.0)  # a patient without reserve
    r = simulate_fast(p, "high-dose", days=28, policy=make_policy("pivotal", holds=False, care=False))
    died_h, cause = death(r)
    assert cause == "treatment" and r.provenance["ended_by"] == "died:treatment"
    assert all(rec.administration.time_h <= died_h + 7 * 24 for rec in r.doses if rec.given)
    assert all(rec.administration.time_h <= r.t[-1] + 1e-9 for rec in r.doses if rec.given)
    after = [rec for rec in r.doses if rec.administration.time_h > r.t[-1] + 1e-9]
    assert after and all(not rec.given and rec.held_by == "died:treatment" for rec in after)
    ev = summarize(r, follow_up_weeks=4)["endpoints"]
    assert ev["died"] and ev["death_cause"] == "treatment" and ev["best_overall_response"] == "NE"
