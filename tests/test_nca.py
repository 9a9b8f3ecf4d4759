"""Tests for non-compartmental analysis against analytic references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from il2sim import UserError
from il2sim.analysis import NCAResult, fit_half_life, nca

GRID = np.round(np.arange(481) * 0.05, 10)  # 0 to 24 h every 0.05 h


@pytest.mark.parametrize(("c0", "k"), [(100.0, 0.5), (650.0, math.log(2) / (85 / 60)), (1.0, 3.0)])
def test_one_compartment_bolus(c0, k):
    r = nca(GRID, c0 * np.exp(-k * GRID))
    assert isinstance(r, NCAResult)
    assert r.cmax == c0
    assert r.tmax_h == 0.0
    assert r.lambda_z_per_h == pytest.approx(k, rel=1e-9)
    assert r.t_half_terminal_min == pytest.approx(60 * math.log(2) / k, rel=1e-9)
    assert r.auc_inf == pytest.approx(c0 / k, rel=1e-3)
    assert r.auc_0_last == pytest.approx(c0 / k * (1 - math.exp(-k * 24)), rel=1e-9)
    assert r.n_points_lambda_z == GRID.size - 1  # every point after tmax
    assert r.r2_adj == pytest.approx(1.0, abs=1e-12)


def test_biexponential_terminal_half_life():
    a, alpha, b, beta = 80.0, 3.0, 20.0, 0.4
    c = a * np.exp(-alpha * GRID) + b * np.exp(-beta * GRID)
    t_half = 60 * math.log(2) / beta
    assert fit_half_life(GRID, c, 12.0, 24.0) == pytest.approx(t_half, rel=1e-6)
    r = nca(GRID, c)
    assert r.t_half_terminal_min == pytest.approx(t_half, rel=5e-3)
    assert 3 <= r.n_points_lambda_z < GRID.size - 1  # the distribution phase is excluded
    assert r.auc_inf == pytest.approx(a / alpha + b / beta, rel=1e-3)
    # early window: only the distribution-dominated part
    early = fit_half_life(GRID, c, 0.0, 0.5)
    assert early < t_half / 2


def test_short_infusion_tmax_at_end():
    k, rate, dur = 0.5, 400.0, 0.25  # concentration units per h (V = 1)
    t = GRID
    c_end = rate / k * (1 - math.exp(-k * dur))
    c = np.where(t <= dur, rate / k * (1 - np.exp(-k * t)), c_end * np.exp(-k * (t - dur)))
    r = nca(t, c, dose_start_h=0.0, dose_end_h=dur)
    assert r.tmax_h == pytest.approx(dur)
    assert r.cmax == pytest.approx(c_end, rel=1e-12)
    assert r.lambda_z_per_h == pytest.approx(k, rel=1e-9)
    assert r.auc_inf == pytest.approx(rate * dur / k, rel=1e-3)


def test_second_dose_window():
    k = 0.7
    c1 = 100 * np.exp(-k * GRID)
    c = c1 + np.where(GRID >= 8, 100 * np.exp(-k * np.clip(GRID - 8, 0, None)), 0.0)
    r = nca(GRID, c - c1 * (GRID >= 0), dose_start_h=8.0, window_end_h=16.0)
    assert r.tmax_h == 8.0
    assert r.lambda_z_per_h == pytest.approx(k, rel=1e-9)
    ref = nca(GRID[GRID <= 8], 100 * np.exp(-k * GRID[GRID <= 8]))
    assert r.auc_0_last == pytest.approx(ref.auc_0_last, rel=1e-9)


def test_min_points_and_nan():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    c = np.array([1.0, 8.0, 4.0, 2.0])
    r = nca(t, c)  # exactly 2 terminal points < 3
    assert r.cmax == 8.0 and r.tmax_h == 1.0
    assert r.auc_0_last > 0
    assert math.isnan(r.lambda_z_per_h) and math.isnan(r.auc_inf)
    assert math.isnan(r.t_half_terminal_min) and math.isnan(r.r2_adj)
    assert r.n_points_lambda_z == 0
    r2 = nca(t, c, min_points=2)
    assert r2.lambda_z_per_h == pytest.approx(math.log(2))
    assert r2.n_points_lambda_z == 2


def test_nonpositive_concentrations_ignored_in_terminal_fit():
    c = 100 * np.exp(-0.5 * GRID)
    c[GRID > 20] = 0.0
    c[100] = -1e-3  # a negative value after baseline subtraction
    r = nca(GRID, c)
    assert r.lambda_z_per_h == pytest.approx(0.5, rel=1e-9)


def test_flat_or_rising_terminal_phase_gives_nan():
    t = np.arange(10.0)
    r = nca(t, np.r_[5.0, np.full(9, 1.0)])
    assert math.isnan(r.lambda_z_per_h)
    assert r.auc_0_last == pytest.approx(4.0 / math.log(5.0) + 8.0)  # log-down, then flat
    r = nca(t, t + 1.0)
    assert r.tmax_h == 9.0 and math.isnan(r.lambda_z_per_h)


def test_empty_or_zero_profile():
    r = nca(GRID, np.zeros_like(GRID))
    assert all(math.isnan(v) for v in (r.cmax, r.tmax_h, r.auc_0_last, r.auc_inf))
    assert r.n_points_lambda_z == 0
    r = nca(GRID, np.ones_like(GRID), dose_start_h=100.0)
    assert math.isnan(r.cmax)
    assert math.isnan(fit_half_life(GRID, np.ones_like(GRID), 30, 40))
    assert math.isnan(fit_half_life(GRID, np.ones_like(GRID), 0, 10))  # flat


@pytest.mark.parametrize(
    ("t", "c", "kw", "field"),
    [
        (np.zeros((2, 2)), np.zeros((2, 2)), {}, "time_h"),
        (np.arange(3.0), np.arange(4.0), {}, "conc"),
        (np.array([0.0, 1.0, 1.0]), np.ones(3), {}, "time_h"),
        (np.array([0.0, np.nan, 2.0]), np.ones(3), {}, "time_h"),
        (np.arange(5.0), np.ones(5), {"min_points": 1}, "min_points"),
    ],
)
def test_bad_inputs(t, c, kw, field):
    with pytest.raises(UserError) as exc:
        nca(t, c, **kw)
    assert exc.value.field == field


def test_inputs_not_mutated():
    t = GRID.copy()
    c = 10 * np.exp(-GRID)
    c0 = c.copy()
    nca(t, c)
    np.testing.assert_array_equal(c, c0)
    np.testing.assert_array_equal(t, GRID)
