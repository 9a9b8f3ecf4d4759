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

Solver failures (and floating-point errors in the right-hand side) are
returned as ``Status.SOLVER_FAILED`` with what was computed so far; nothing is
raised unless ``throw=True``.
"""

from __future__ import annotations

import math
import time as _time

import numpy as np
from scipy.integrate import solve_ivp

from .._version import __version__
from ..model import IndividualModel, Patient, compiled_model, derive_constants
from ..model import _spec
from ..protocol import Decision, DoseRecord, GiveAllPolicy, Observation, Policy, Regimen
from ._result import SimulationResult, SolverSettings, Status

__all__ = ["atol_scale", "initial_state", "simulate"]

_UNIT_FLOOR = {"IU": 1.0, "pg/mL": 1.0, "1": 1.0, "cells/uL": 1.0, "1e9 cells": 1e-3, "mL": 1e-4, "L": 1.0, "g": 1.0, "degC": 1.0, "mg/dL": 1.0}
_EPS_T = 1e-9


class _SolverFailure(Exception):
    pass


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
        raise _SolverFailure(f"solve_ivp ({settings.method}) failed on [{t0:g}, {t1:g}] h: {sol.message}")
    if not np.all(np.isfinite(sol.y[:, -1])):
        raise _SolverFailure(f"non-finite state on [{t0:g}, {t1:g}] h")
    return sol


def _dose_jump(y: np.ndarray, route: str, amount_iu: float, pnamed: dict[str, float]) -> None:
    cm = compiled_model()
    env = dict(pnamed)
    env["amount"] = amount_iu
    for sid, expr in _spec.DOSE_TARGETS[route].items():
        y[cm.state_index(sid)] += float(eval(expr, {"__builtins__": {}}, env))  # declaration strings only


class _Course:
    """Schedule bookkeeping for one run: courses, decision times and breakpoints.

    The first course starts at t = 0. Seven weeks after a course's last
    scheduled dose (at the start of that day) the policy's ``next_course`` is
    asked whether to give another (if it has one); a yes appends the regimen's
    next course from that time.
    """

    RETREAT_WAIT_H = 7 * 7 * 24.0

    def __init__(self, policy: Policy, regimen: Regimen, t_end: float) -> None:
        self.policy = policy
        self.regimen = regimen
        self.t_end = t_end
        self.schedule: list = []
        self.decision_times: set[float] = set()
        self.breakpoints: set[float] = {t_end}
        self.stopped_cycles: dict[tuple[int, int], str] = {}
        self.course_decision_at: float | None = None
        self.courses_started = 0
        self._add_course(0.0)

    def _add_course(self, start_h: float) -> None:
        self.courses_started += 1
        new = [a for a in self.regimen.administrations(course=self.courses_started, course_start_h=start_h)
               if a.time_h <= self.t_end + _EPS_T]
        self.schedule.extend(new)
        times = {a.time_h for a in new}
        monitor = self.policy.monitoring_times(tuple(new), self.t_end) if new else ()
        times |= {float(x) for x in monitor if start_h - _EPS_T <= x <= self.t_end}
        self.decision_times |= times
        self.breakpoints |= times
        self.course_decision_at = None
        if new and hasattr(self.policy, "next_course"):
            last = max(a.time_h for a in self.regimen.administrations(course=self.courses_started,
                                                                       course_start_h=start_h))
            at = math.ceil((last + self.RETREAT_WAIT_H) / 24.0 - 1e-9) * 24.0
            if at <= self.t_end + _EPS_T:
                self.course_decision_at = at
                self.decision_times.add(at)
                self.breakpoints.add(at)

    def is_decision_time(self, t: float) -> bool:
        return any(abs(t - d) <= _EPS_T for d in self.decision_times)

    def is_course_decision(self, t: float) -> bool:
        return self.course_decision_at is not None and abs(t - self.course_decision_at) <= _EPS_T

    def decide_next_course(self, t: float, observation: Observation) -> None:
        if self.policy.next_course(observation, self.courses_started):
            self._add_course(t)
        else:
            self.course_decision_at = None

    def due(self, t: float) -> list:
        return [a for a in self.schedule if abs(a.time_h - t) <= _EPS_T]

    def add_breakpoint(self, t: float) -> None:
        if t < self.t_end:
            self.breakpoints.add(t)

    def next_breakpoint(self, t: float) -> float:
        return min(b for b in self.breakpoints if b > t + _EPS_T)


def _run_in(individual: IndividualModel, solver: SolverSettings, run_in: bool, count=None) -> tuple[np.ndarray, np.ndarray]:
    """The state at t = 0 before the reset of the counters, and the lesion rescale factors.

    Integrates the untreated run-in (when ``run_in`` and the patient has one)
    and rescales the lesions to their diagnosis sizes; raises on solver failure.
    """
    cm = compiled_model()
    p = individual.p
    controls = [0.0] * len(cm.control_names)

    def fun(t, y):
        return cm.rhs(t, y, p, controls)

    lesion_ids = [f"lesion_{i}" for i in range(1, _spec.MAX_LESIONS + 1)] + ["tumour_occult"]
    lesion_idx = [cm.state_index(s) for s in lesion_ids]
    target = individual.y_baseline[lesion_idx]
    rescale = np.ones(len(lesion_idx))
    y = individual.y_baseline.copy()
    if run_in and individual.run_in_h > 0:
        atol = solver.atol * atol_scale(individual)
        sol = _integrate(fun, -individual.run_in_h, 0.0, individual.y_run_in_start.copy(), solver, atol, False)
        if count is not None:
            count(sol)
        y = sol.y[:, -1].copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rescale = np.where(y[lesion_idx] > 0, target / y[lesion_idx], 1.0)
        y[lesion_idx] = target
    return y, rescale


def _reset_at_t0(y: np.ndarray) -> None:
    cm = compiled_model()
    for sid in _spec.RESET_AT_T0:
        y[cm.state_index(sid)] = 0.0


def initial_state(
    patient: Patient | IndividualModel,
    solver: SolverSettings = SolverSettings(),
    run_in: bool = True,
) -> np.ndarray:
    """The state at t = 0 from which :func:`simulate` starts the treatment.

    The untreated run-in (integrated with ``solver``, as :func:`simulate` does
    with the same settings), the lesions rescaled to their diagnosis sizes and
    the counters of ``RESET_AT_T0`` zeroed; with ``run_in=False`` the analytic
    steady state with the lesions at diagnosis. Ordered as
    ``compiled_model().state_ids``.

    Raises
    ------
    RuntimeError
        If the solver fails during the run-in.
    """
    individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
    try:
        y, _rescale = _run_in(individual, solver, run_in)
    except (_SolverFailure, ArithmeticError, ValueError) as exc:
        raise RuntimeError(f"run-in: {exc}") from exc
    _reset_at_t0(y)
    return y


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
    started = _time.perf_counter()
    individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
    policy = policy if policy is not None else GiveAllPolicy()
    cm = compiled_model()
    p = individual.p
    pnamed = individual.named_parameters()
    n_controls = len(cm.control_names)
    iv_index = cm.control_names.index("drug_iv_rate")
    atol = solver.atol * atol_scale(individual)
    stats = {"nfev": 0, "njev": 0, "nlu": 0, "segments": 0}

    controls = [0.0] * n_controls

    def fun(t, y):
        return cm.rhs(t, y, p, controls)

    def count(sol):
        stats["nfev"] += sol.nfev
        stats["njev"] += sol.njev
        stats["nlu"] += sol.nlu
        stats["segments"] += 1

    # ---------------------------------------------------------------- run-in
    status, message = Status.SUCCESS, ""
    try:
        y, rescale = _run_in(individual, solver, run_in, count)
    except (_SolverFailure, ArithmeticError, ValueError) as exc:
        status, message = Status.SOLVER_FAILED, f"run-in: {exc}"
        y, rescale = individual.y_baseline.copy(), np.ones(_spec.MAX_LESIONS + 1)

    # ------------------------------------------------------------ treatment
    _reset_at_t0(y)
    t_end = 24.0 * float(days)
    n_out = int(math.floor(t_end / output_step_h + 1e-9)) + 1
    grid = np.arange(n_out) * output_step_h
    if grid[-1] < t_end - _EPS_T:
        grid = np.append(grid, t_end)
    out_y = np.full((len(grid), cm.n_states), np.nan)
    out_u = np.zeros((len(grid), n_controls))
    run = _Course(policy, regimen, t_end)
    records: list[DoseRecord] = []
    decisions: list[tuple[float, Decision]] = []
    history: list[tuple[float, dict[str, float]]] = []
    base = [0.0] * n_controls           # piecewise-constant controls set by decisions
    timed: list[tuple[float, int, float]] = []  # (end time, control index, rate): infusions and boluses
    weight = pnamed["weight_kg"]
    filled = 0
    t = 0.0

    def effective() -> list[float]:
        u = list(base)
        for _end, k, rate in timed:
            u[k] += rate
        return u

    try:
        if status is not Status.SUCCESS:
            raise _SolverFailure(message)
        while True:
            # timed inputs ending now
            timed = [x for x in timed if x[0] > t + _EPS_T]
            if run.is_decision_time(t):
                _, obs, _ = cm.evaluate(t, y.reshape(-1, 1), p, tuple(effective()))
                values = {n: float(np.asarray(v).reshape(-1)[0]) for n, v in obs.items()}
                in_force = dict(zip(cm.control_names, effective()))
                if run.is_course_decision(t):  # first, so that a new course's first dose is due now
                    run.decide_next_course(t, Observation(time_h=t, values=values, doses=tuple(records), due=(),
                                                          controls=in_force, history=tuple(history)))
                due = run.due(t)
                live = [a for a in due if (a.course, a.cycle) not in run.stopped_cycles]
                for a in due:
                    if (a.course, a.cycle) in run.stopped_cycles:
                        records.append(DoseRecord(len(records), a, False, held_by=run.stopped_cycles[(a.course, a.cycle)],
                                                  stopped=True))
                observation = Observation(time_h=t, values=values, doses=tuple(records), due=tuple(live),
                                          controls=in_force, history=tuple(history))
                decision = policy.decide(observation)
                decisions.append((t, decision))
                history.append((t, {**values, **observation.controls}))
                for name, value in decision.controls.items():
                    base[cm.control_names.index(name)] = float(value)
                for name, rate, hours in decision.infusions:
                    timed.append((t + float(hours), cm.control_names.index(name), float(rate)))
                    run.add_breakpoint(t + float(hours))
                for a in live:
                    if decision.dose in ("give", None):
                        amount = a.amount_iu_per_kg * weight
                        if a.route == "iv" and a.infusion_minutes > 0:
                            timed.append((a.end_h, iv_index, amount / (a.infusion_minutes / 60.0)))
                            run.add_breakpoint(a.end_h)
                        else:
                            _dose_jump(y, a.route, amount, pnamed)
                        records.append(DoseRecord(len(records), a, True))
                    elif decision.dose == "hold":
                        records.append(DoseRecord(len(records), a, False, held_by=decision.rule_id))
                    else:
                        run.stopped_cycles[(a.course, a.cycle)] = decision.rule_id
                        records.append(DoseRecord(len(records), a, False, held_by=decision.rule_id, stopped=True))
            u_now = effective()
            if t >= t_end - _EPS_T:
                while filled < len(grid):
                    out_y[filled] = y
                    out_u[filled] = u_now
                    filled += 1
                break
            t_next = min(run.next_breakpoint(t), t_end)
            sel = grid[(grid >= t - _EPS_T) & (grid < t_next - _EPS_T)]
            controls[:] = u_now
            sol = _integrate(fun, t, t_next, y, solver, atol, dense=len(sel) > 0)
            count(sol)
            if len(sel):
                out_y[filled: filled + len(sel)] = sol.sol(np.clip(sel, t, t_next)).T
                out_y[filled] = y  # the post-event state at t exactly
                out_u[filled: filled + len(sel)] = u_now
                filled += len(sel)
            y = np.array(sol.y[:, -1], dtype=float)
            t = t_next
    except (_SolverFailure, ArithmeticError, ValueError) as exc:
        status, message = Status.SOLVER_FAILED, str(exc)
        if throw:
            raise RuntimeError(message) from exc
    # scheduled doses never reached (end of the run inside a course, or a failure)
    for a in run.schedule[len(records):]:
        if a.time_h <= t_end + _EPS_T:
            records.append(DoseRecord(len(records), a, False, held_by="not_reached"))

    keep = filled if status is not Status.SUCCESS else len(grid)
    provenance = {
        "package": "il2sim",
        "version": __version__,
        "engine": "scipy",
        "solver": solver.to_dict(),
        "indication": individual.patient.indication,
        "patient_id": individual.patient.patient_id,
        "covariates": {
            "weight_kg": individual.patient.covariates.weight_kg,
            "nephrectomy": individual.patient.covariates.nephrectomy,
            "lesion_diameters_mm": list(individual.patient.lesion_diameters()),
        },
        "parameter_overrides": dict(individual.patient.parameters),
        "regimen": regimen.to_dict(),
        "policy": getattr(policy, "name", type(policy).__name__),
        "courses_started": run.courses_started,
        "days": float(days),
        "output_step_h": float(output_step_h),
        "run_in_days": individual.run_in_h / 24.0 if run_in else 0.0,
        "run_in_lesion_rescale": [float(x) for x in rescale],
        "wall_time_s": _time.perf_counter() - started,
    }
    return SimulationResult(
        individual=individual,
        regimen=regimen,
        t=grid[:keep],
        y=out_y[:keep],
        controls=out_u[:keep],
        doses=tuple(records),
        decisions=tuple(decisions),
        status=status,
        message=message or status.value,
        provenance=provenance,
        stats=stats,
    )
