"""The reference engine: SciPy's stiff integrators, piecewise between events.

The run has two phases:

1. **Run-in** (t < 0): the untreated patient from ``-run_in_days`` to 0, from
   the immune steady state with the lesions shrunk back by their net growth;
   at t = 0 the lesion volumes are rescaled to the diagnosis sizes exactly
   (the factor is recorded in the provenance, and is close to 1).
2. **Treatment** (0 <= t <= end): integrated piecewise between breakpoints:
   decision times (every scheduled dose time, plus the policy's monitoring
   times), infusion ends, and the end. At a decision time the policy sees the
   observables just before any administration there; a bolus or SC dose is a
   jump applied before the output sample at the same time; an infusion runs
   over ``[start, start + duration)`` as a zero-order rate.

The protocol loop is :func:`il2sim.engine._driver.drive`, shared with the fast
engine; this module integrates its segments with ``scipy.integrate.solve_ivp``
(BDF by default) and dense output for the samples.

Solver failures (and floating-point errors in the right-hand side) are
returned as ``Status.SOLVER_FAILED`` with what was computed so far; nothing is
raised unless ``throw=True``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from ..model import IndividualModel, Patient, compiled_model, derive_constants
from ..model import _spec
from ..protocol import GiveAllPolicy, Policy, Regimen
from ._driver import Segment, SolverFailure, after_run_in, drive, run_in_segment
from ._result import SimulationResult, SolverSettings

__all__ = ["atol_scale", "initial_state", "simulate"]

#: Longest stretch integrated by one solve_ivp call, h (see _SegmentSolver.__call__).
RESTART_H = 168.0

_UNIT_FLOOR = {"IU": 1.0, "pg/mL": 1.0, "1": 1.0, "cells/uL": 1.0, "1e9 cells": 1e-3, "mL": 1e-4, "L": 1.0, "g": 1.0, "degC": 1.0, "mg/dL": 1.0}


def atol_scale(individual: IndividualModel) -> np.ndarray:
    """Typical magnitude of each state: max(|baseline|, a floor set by its unit)."""
    # cumulative counters (mL since t = 0) are judged on the scale of a litre, not of a lesion
    floors = np.array([1000.0 if s.id in _spec.RESET_AT_T0 else _UNIT_FLOOR.get(s.unit, 1.0) for s in _spec.STATES])
    return np.maximum(np.abs(individual.y_baseline), floors)


def _integrate(fun, t0, t1, y0, settings: SolverSettings, atol, dense: bool):
    sol = solve_ivp(
        fun, (t0, t1), y0, method=settings.method, rtol=settings.rtol, atol=atol,
        max_step=settings.max_step_h, dense_output=dense,
        # SciPy's own first-step guess can fall below the float spacing of t late in a
        # run when an infusion starts from zero drug; a small explicit first step is robust
        first_step=min(1e-4, (t1 - t0) / 2),
    )
    if sol.status < 0:
        raise SolverFailure(f"solve_ivp ({settings.method}) failed on [{t0:g}, {t1:g}] h: {sol.message}")
    if not np.all(np.isfinite(sol.y[:, -1])):
        raise SolverFailure(f"non-finite state on [{t0:g}, {t1:g}] h")
    return sol


class _SegmentSolver:
    """Integrates the driver's segments for one patient with solve_ivp, counting the work."""

    def __init__(self, individual: IndividualModel, solver: SolverSettings) -> None:
        self.cm = compiled_model()
        self.p = individual.p
        self.solver = solver
        self.atol = solver.atol * atol_scale(individual)
        self.stats = {"nfev": 0, "njev": 0, "nlu": 0, "segments": 0}

    def __call__(self, seg: Segment) -> None:
        rhs, p, controls = self.cm.rhs, self.p, list(seg.u)

        def fun(t, y):
            return rhs(t, y, p, controls)

        # A long segment (weeks of follow-up between decisions) is integrated in pieces of at most
        # RESTART_H: SciPy's finite-difference Jacobian raises its step factor 10-fold at every
        # evaluation for a state that does not move the right-hand side (a drug depot at 0) and never
        # caps it, so over hundreds of evaluations in one solve_ivp call it overflows.
        n_pieces = max(1, math.ceil((seg.t1 - seg.t0) / RESTART_H - 1e-9))
        edges = np.linspace(seg.t0, seg.t1, n_pieces + 1)
        y = seg.y
        samples_t = np.asarray(seg.samples_t, dtype=float)
        for k in range(n_pieces):
            a, b = edges[k], edges[k + 1]
            inside = (samples_t >= a) & ((samples_t < b) if k < n_pieces - 1 else (samples_t <= b))
            sol = _integrate(fun, a, b, y, self.solver, self.atol, dense=bool(inside.any()))
            for key in ("nfev", "njev", "nlu"):
                self.stats[key] += getattr(sol, key)
            if inside.any():
                seg.samples_y[inside] = sol.sol(samples_t[inside]).T
            y = np.array(sol.y[:, -1], dtype=float)
        self.stats["segments"] += 1
        seg.y = y


def initial_state(
    patient: Patient | IndividualModel,
    solver: SolverSettings | None = None,
    run_in: bool = True,
) -> np.ndarray:
    """The state at t = 0 from which the engines start the treatment.

    The untreated run-in (integrated with ``solver``, as the engine does with
    the same settings: a :class:`SolverSettings` for the reference engine, a
    :class:`~il2sim.engine.FastSettings` or None, the default, for the fast
    engine), the lesions rescaled to their diagnosis sizes and the counters of
    ``RESET_AT_T0`` zeroed; with ``run_in=False`` the analytic steady state
    with the lesions at diagnosis. Ordered as ``compiled_model().state_ids``.

    Raises
    ------
    RuntimeError
        If the solver fails during the run-in.
    """
    if not isinstance(solver, SolverSettings):
        from ._fast import FastSettings, initial_state_fast

        return initial_state_fast(patient, solver if solver is not None else FastSettings(), run_in)
    individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
    seg = run_in_segment(individual, run_in)
    if seg is not None:
        try:
            _SegmentSolver(individual, solver)(seg)
        except (SolverFailure, ArithmeticError, ValueError) as exc:
            raise RuntimeError(f"run-in: {exc}") from exc
    return after_run_in(individual, seg.y if seg is not None else None)[0]


def simulate(
    patient: Patient | IndividualModel,
    regimen: Regimen,
    *,
    days: float,
    policy: Policy | None = None,
    output_step_h: float = 0.25,
    solver: SolverSettings = SolverSettings(),
    run_in: bool = True,
    throw: bool = False,
) -> SimulationResult:
    """Simulate one patient on one regimen with the reference (SciPy) engine.

    Parameters
    ----------
    patient
        A :class:`~il2sim.model.Patient`, or its precomputed
        :class:`~il2sim.model.IndividualModel`.
    regimen
        The schedule of one course (:mod:`il2sim.protocol`); further courses
        repeat it when the policy's ``next_course`` says so.
    days
        Simulate from t = 0 to ``24 * days`` h inclusive.
    policy
        Asked at every decision time; default :class:`GiveAllPolicy` (every
        dose, no care, one course). The clinical protocol is
        :func:`il2sim.protocol.make_policy`.
    output_step_h
        Spacing of the output grid (0.25 h by default).
    solver
        Integrator settings.
    run_in
        Integrate the untreated run-in before t = 0 (default); otherwise start
        from the analytic steady state with the lesions at diagnosis size.
    throw
        Raise ``RuntimeError`` on solver failure instead of returning a status.

    Returns
    -------
    SimulationResult
    """
    if not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
        raise ValueError(f"days: got {days!r}, expected a positive number")
    if not (isinstance(output_step_h, (int, float)) and math.isfinite(output_step_h) and output_step_h > 0):
        raise ValueError(f"output_step_h: got {output_step_h!r}, expected a positive number of hours")
    individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
    integrate = _SegmentSolver(individual, solver)
    gen = drive(individual, regimen, policy if policy is not None else GiveAllPolicy(), days=float(days),
                output_step_h=float(output_step_h), run_in=run_in, engine="scipy", solver=solver.to_dict(),
                stats=integrate.stats, throw=throw)
    seg = next(gen)
    while True:
        try:
            try:
                integrate(seg)
            except (SolverFailure, ArithmeticError, ValueError) as exc:
                seg = gen.throw(SolverFailure(str(exc)))
                continue
            seg = gen.send(None)
        except StopIteration as stop:
            return stop.value
