"""Tests for RECIST 1.1 scoring (il2sim.analysis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2sim import UserError
from il2sim.analysis import (
    RESPONSE_CATEGORIES,
    Scan,
    best_overall_response,
    scan_times_h,
    score_response,
    timepoint_response,
)

WK = 168.0


def S(week, total, absent=False, new=False):
    return Scan(week * WK, total, all_targets_absent=absent, new_lesion=new)


# --------------------------------------------------------------------------
# scan times
# --------------------------------------------------------------------------


def test_scan_times_default():
    np.testing.assert_array_equal(scan_times_h(), WK * np.array([8, 16, 24, 32, 40, 48]))
    assert scan_times_h()[0] / 24 + 1 == 57  # day 57


@pytest.mark.parametrize(
    ("follow", "interval", "weeks"),
    [(56, 8, [8, 16, 24, 32, 40, 48, 56]), (7.9, 8, []), (8, 8, [8]), (10, 3, [3, 6, 9])],
)
def test_scan_times_inclusive_end(follow, interval, weeks):
    np.testing.assert_allclose(scan_times_h(follow, interval), WK * np.array(weeks, float))


@pytest.mark.parametrize(("follow", "interval"), [(0, 8), (-1, 8), (52, 0), (float("nan"), 8), ("52", 8)])
def test_scan_times_bad(follow, interval):
    with pytest.raises(UserError):
        scan_times_h(follow, interval)


# --------------------------------------------------------------------------
# time-point response: boundaries
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "baseline", "nadir", "absent", "new", "expected"),
    [
        (70.0, 100.0, 100.0, False, False, "PR"),  # exactly -30 %
        (70.1, 100.0, 100.0, False, False, "SD"),  # -29.9 %
        (21.0, 30.0, 30.0, False, False, "PR"),  # -30 % of 30 mm
        (2.1, 3.0, 3.0, False, False, "PR"),  # 0.7 * 3 is 2.0999... in binary
        (69.9, 100.0, 100.0, False, False, "PR"),
        (120.0, 100.0, 100.0, False, False, "PD"),  # +20 % and +20 mm
        (119.9, 100.0, 100.0, False, False, "SD"),
        (30.0, 100.0, 25.0, False, False, "PD"),  # +20 % and exactly +5 mm from nadir
        (29.9, 100.0, 25.0, False, False, "PR"),  # +19.6 %, +4.9 mm
        (24.0, 100.0, 20.0, False, False, "PR"),  # +20 % but only +4 mm
        (48.0, 100.0, 40.0, False, False, "PD"),  # +20 %, +8 mm (still < baseline)
        (5.0, 100.0, 0.0, False, False, "PD"),  # regrowth after CR
        (4.9, 100.0, 0.0, False, False, "PR"),
        (0.0, 100.0, 10.0, True, False, "CR"),
        (0.0, 100.0, 0.0, True, True, "PD"),  # new lesion beats CR
        (50.0, 100.0, 50.0, False, True, "PD"),
        (100.0, 100.0, 100.0, False, False, "SD"),
    ],
)
def test_timepoint_response(total, baseline, nadir, absent, new, expected):
    scan = Scan(56 * 24.0, total, all_targets_absent=absent, new_lesion=new)
    assert timepoint_response(scan, baseline, nadir) == expected


# --------------------------------------------------------------------------
# best overall response: hand-built trajectories
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scans", "expected"),
    [
        ([], "NE"),
        ([S(8, 60), S(16, 60)], "PR"),
        ([S(8, 70), S(12, 70)], "PR"),  # confirmation exactly 4 weeks later
        ([S(8, 70), S(12 - 1e-3, 70)], "SD"),  # just under 4 weeks: unconfirmed
        ([S(8, 70), S(11.9, 70), S(12, 70)], "PR"),  # next scan >= 4 weeks confirms
        ([S(8, 70), S(10, 90), S(12, 70)], "SD"),  # intervening SD breaks it
        ([S(8, 60)], "SD"),  # unconfirmed PR, SD duration met
        ([S(8, 60), S(16, 80)], "SD"),  # unconfirmed PR then SD
        ([S(8, 0, True), S(16, 0, True)], "CR"),
        ([S(8, 0, True), S(16, 4)], "PR"),  # CR then PR (regrowth < 5 mm)
        ([S(8, 0, True), S(16, 5)], "SD"),  # CR then regrowth of 5 mm: PD
        ([S(8, 20), S(16, 0, True)], "PR"),  # PR confirmed by CR; the CR is unconfirmed
        ([S(8, 20), S(16, 0, True), S(24, 0, True)], "CR"),
        ([S(8, 20), S(16, 10), S(24, 40)], "PR"),  # confirmed PR survives later PD
        ([S(8, 0, True)], "SD"),
        ([S(8, 0, True), S(16, 0, True, True)], "SD"),  # CR then new lesion (PD)
        ([S(8, 130)], "PD"),
        ([S(8, 100, new=True)], "PD"),
        ([S(4, 130)], "PD"),  # early PD before 6 weeks
        ([S(4, 100)], "NE"),  # single early SD: SD not evaluable
        ([S(4, 100), S(8, 130)], "PD"),  # early SD then PD: SD too short
        ([S(4, 60), S(5, 120)], "PD"),  # early PR, never confirmed, then PD
        ([S(6, 100)], "SD"),  # exactly 6 weeks
        ([S(6 - 1e-3, 100)], "NE"),
        ([S(6 - 1e-3, 100), S(8, 130)], "PD"),
        ([S(8, 130), S(16, 0, True), S(24, 0, True)], "PD"),  # scans after PD ignored
        ([S(8, 100), S(16, 110), S(24, 125)], "SD"),  # +25 % from baseline nadir, +25 mm
        ([S(8, 90), S(16, 110)], "SD"),  # +22 % and +20 mm from nadir 90 -> PD, but SD at 8 wk
        ([S(8, 100), S(16, 119.9)], "SD"),
    ],
)
def test_best_overall_response(scans, expected):
    assert best_overall_response(100.0, scans) == expected


def test_pd_after_pr_and_sd_at_8_weeks_scored_sd_not_pd():
    # SD requirement met at week 8, PD at week 16: best is SD.
    out = score_response(100.0, [S(8, 90), S(16, 110), S(24, 50)])
    assert out["best_overall_response"] == "SD"
    assert out["responses"] == ["SD", "PD", None]
    assert out["nadir_refs_mm"] == [100.0, 90.0, None]
    assert out["nadir_mm"] == 90.0
    assert out["first_pd_time_h"] == 16 * WK


def test_score_response_fields():
    out = score_response(100.0, [S(8, 60), S(16, 50), S(24, 55)])
    assert out["best_overall_response"] == "PR"
    assert out["responses"] == ["PR", "PR", "PR"]
    assert out["nadir_mm"] == 50.0
    assert out["confirmed_time_h"] == 8 * WK
    assert out["first_pd_time_h"] is None


def test_options():
    scans = [S(8, 70), S(10, 70)]
    assert best_overall_response(100.0, scans) == "SD"
    assert best_overall_response(100.0, scans, confirm_min_weeks=2) == "PR"
    assert best_overall_response(100.0, [S(8, 100)], sd_min_weeks=9) == "NE"


@pytest.mark.parametrize(
    ("baseline", "scans", "field"),
    [
        (0.0, [], "baseline_sum_mm"),
        (float("nan"), [], "baseline_sum_mm"),
        (100.0, [S(8, 1), S(8, 1)], "scans[1].time_h"),
        (100.0, [S(16, 1), S(8, 1)], "scans[1].time_h"),
        (100.0, [Scan(0.0, 1)], "scans[0].time_h"),
        (100.0, [(8, 1)], "scans[0]"),
    ],
)
def test_bad_inputs(baseline, scans, field):
    with pytest.raises(UserError) as exc:
        best_overall_response(baseline, scans)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_h": float("inf"), "sum_diameters_mm": 1}, "time_h"),
        ({"time_h": 1, "sum_diameters_mm": -1}, "sum_diameters_mm"),
        ({"time_h": 1, "sum_diameters_mm": "3"}, "sum_diameters_mm"),
    ],
)
def test_bad_scan(kwargs, field):
    with pytest.raises(UserError) as exc:
        Scan(**kwargs)
    assert exc.value.field == field


# --------------------------------------------------------------------------
# Property: more shrinkage never gives a worse category
# --------------------------------------------------------------------------

RANK = {c: i for i, c in enumerate(reversed(RESPONSE_CATEGORIES))}  # NE < PD < SD < PR < CR


@st.composite
def trajectories(draw):
    n = draw(st.integers(0, 7))
    weeks = sorted(draw(st.sets(st.integers(6, 60), min_size=n, max_size=n)))
    sums = draw(st.lists(st.floats(0.0, 300.0), min_size=n, max_size=n))
    new = draw(st.lists(st.sampled_from([False, False, False, True]), min_size=n, max_size=n))
    return [(w, s, nl) for w, s, nl in zip(weeks, sums, new, strict=True)]


def _scans(traj, factor):
    out = []
    for w, s, nl in traj:
        total = s * factor
        out.append(Scan(w * WK, total, all_targets_absent=total == 0.0, new_lesion=nl))
    return out


@settings(max_examples=300, deadline=None)
@given(
    baseline=st.floats(10.0, 200.0),
    traj=trajectories(),
    factor=st.floats(0.0, 1.0),
)
def test_shrinking_never_worse(baseline, traj, factor):
    before = best_overall_response(baseline, _scans(traj, 1.0))
    after = best_overall_response(baseline, _scans(traj, factor))
    assert RANK[after] >= RANK[before], (before, after)
