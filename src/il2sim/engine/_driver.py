"""The protocol loop shared by every engine, as a coroutine.

:func:`drive` walks one patient's run: the run-in, then every decision time
(doses, monitoring, further courses), asking the policy and applying its
decision, and assembles the :class:`SimulationResult`. It never integrates:
it *yields* a :class:`Segment` (integrate this state from ``t0`` to ``t1``
with these constant controls, and give me the states at these sample times)
and expects the engine to fill it in before resuming it. An engine that fails
on a segment throws :class:`SolverFailure` into the coroutine, which records
the failure and returns what was computed so far.

So the reference engine (one patient, SciPy) and the fast engine (many
patients, each coroutine advanced in turn, segments integrated by compiled
code) run exactly the same protocol logic; only the integration differs.

Semantics (see also :mod:`il2sim.engine._scipy`): at a decision time the
policy sees the observables just before any administration there; a bolus or
SC dose is a jump applied before the output sample at the same time; an
infusion runs over ``[start, start + duration)`` as a zero-order rate.
"""

from __future__ import annotations

import bisect
import math
import time as _time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._version import __version__
from ..model import CompiledModel, IndividualModel, _spec
from ..protocol import Decision, DoseRecord, History, Observation, Policy, Regimen
from ._result import SimulationResult, Status

__all__ = ["EPS_T", "Segment", "SolverFailure", "after_run_in", "atol_scale", "dose_jump", "drive", "run_in_segment"]

EPS_T = 1e-9

_UNIT_FLOOR = {"IU": 1.0, "pg/mL": 1.0, "1": 1.0, "cells/uL": 1.0, "1e9 cells": 1e-3, "mL": 1e-4, "L": 1.0, "g": 1.0,
               "degC": 1.0, "mg/dL": 1.0}


def atol_scale(individual: IndividualModel) -> np.ndarray:
    """Typical magnitude of each state: max(|baseline|, a floor set by its unit); every engine scales atol by it."""
    # cumulative counters (mL since t = 0) are judged on the scale of a litre, not of a lesion
    floors = np.array([1000.0 if s.id in _spec.RESET_AT_T0 else _UNIT_FLOOR.get(s.unit, 1.0) for s in _spec.STATES])
    return np.maximum(np.abs(individual.y_baseline), floors)


class SolverFailure(Exception):
    """An engine could not integrate a segment (thrown into :func:`drive`)."""


@dataclass
class Segment:
    """One integration request: ``y`` from ``t0`` to ``t1`` under controls ``u``.

    The engine replaces ``y`` by the state at ``t1`` and fills ``samples_y``
    (one row per time in ``samples_t``, all in ``[t0, t1)``; a time equal to
    ``t0`` is the state as given).
    """

    t0: float
    t1: float
    y: np.ndarray
    u: np.ndarray
    samples_t: np.ndarray
    samples_y: np.ndarray = field(default=None)  # type: ignore[arg-type]
    run_in: bool = False

    def __post_init__(self) -> None:
        if self.samples_y is None:
            self.samples_y = np.empty((len(self.samples_t), len(self.y)))


def dose_jump(cm: CompiledModel, y: np.ndarray, route: str, amount_iu: float, pnamed: Mapping[str, float]) -> None:
    """Apply a bolus or SC administration to ``y`` in place (the declaration's dose targets)."""
    env = dict(pnamed)
    env["amount"] = amount_iu
    for sid, expr in _spec.DOSE_TARGETS[route].items():
        y[cm.state_index(sid)] += float(eval(expr, {"__builtins__": {}}, env))  # declaration strings only


_SITES = tuple(f"lesion_{i}" for i in range(1, _spec.MAX_LESIONS + 1)) + ("tumour_occult",)
_LESION_IDS = _SITES + tuple(f"{s}_resistant" for s in _SITES)


def run_in_segment(individual: IndividualModel, run_in: bool) -> Segment | None:
    """The untreated run-in from ``-run_in_h`` to 0 (None when there is none)."""
    if not (run_in and individual.run_in_h > 0):
        return None
    cm = individual.model.compiled
    return Segment(-individual.run_in_h, 0.0, individual.y_run_in_start.copy(), np.zeros(len(cm.control_names)),
                   np.empty(0), run_in=True)


def after_run_in(individual: IndividualModel, y_end: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The state at t = 0 and the lesion rescale factors.

    ``y_end`` is the state at the end of the run-in (None: no run-in, the
    analytic steady state). The lesions are rescaled to their diagnosis sizes
    and the counters of ``RESET_AT_T0`` zeroed.
    """
    cm = individual.model.compiled
    idx = [cm.state_index(s) for s in _LESION_IDS]
    target = individual.y_baseline[idx]
    rescale = np.ones(len(idx))
    y = individual.y_baseline.copy()
    if y_end is not None:
        y = np.array(y_end, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rescale = np.where(y[idx] > 0, target / y[idx], 1.0)
        y[idx] = target
    for sid in _spec.RESET_AT_T0:
        y[cm.state_index(sid)] = 0.0
    return y, rescale


ACTIVE_AFTER_LAST_DOSE_H = 21 * 24.0
"""A course's fine output window ends this long after its last scheduled dose, h (toxicity has resolved)."""


CHECK_EVERY_H = 7 * 24.0
"""Longest segment between two reads of the death indices, h."""


class OutputGrid:
    """The output sample times: fine inside the active windows, coarse outside.

    The fine points are ``k * fine_h`` and the coarse points ``m * coarse_h``
    (integers ``k, m >= 0``, both anchored at t = 0), so a sample's time does
    not depend on where segments start or end. ``windows`` is a list of
    ``[lo, hi]`` intervals (h) that may grow as courses are added; a point at
    time ``x`` is fine when ``lo <= x <= hi`` for some window.
    """

    def __init__(self, fine_h: float, coarse_h: float | None, windows: list[tuple[float, float]]) -> None:
        self.fine_h = float(fine_h)
        self.coarse_h = None if coarse_h is None or coarse_h <= fine_h else float(coarse_h)
        self.windows = windows

    def _inside(self, x: np.ndarray) -> np.ndarray:
        inside = np.zeros(len(x), dtype=bool)
        for lo, hi in self.windows:
            inside |= (x >= lo - EPS_T) & (x <= hi + EPS_T)
        return inside

    def _multiples(self, step: float, t0: float, t1: float) -> np.ndarray:
        k0 = math.ceil((t0 - EPS_T) / step)
        k1 = math.ceil((t1 - EPS_T) / step)
        return np.arange(k0, max(k0, k1), dtype=float) * step

    def points(self, t0: float, t1: float) -> np.ndarray:
        """Sample times in ``[t0, t1)`` (a time within 1e-9 h of ``t1`` belongs to the next segment), sorted."""
        fine = self._multiples(self.fine_h, t0, t1)
        if self.coarse_h is not None:
            fine = fine[self._inside(fine)]
            coarse = self._multiples(self.coarse_h, t0, t1)
            coarse = coarse[~self._inside(coarse)]
            if len(coarse):  # the union of two sorted runs of distinct multiples
                fine = np.union1d(fine, coarse) if len(fine) else coarse
        return np.clip(fine, t0, t1) if len(fine) and (fine[0] < t0 or fine[-1] > t1) else fine


class _Schedule:
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
        # weekly checkpoints (segment ends, not decisions): a death in a long follow-up ends the run within a week
        self.breakpoints: set[float] = {t_end} | {float(x) for x in np.arange(1, math.ceil(t_end / CHECK_EVERY_H))
                                                  * CHECK_EVERY_H}
        self.stopped_cycles: dict[tuple[int, int], str] = {}
        self.course_decision_at: float | None = None
        self.courses_started = 0
        self.windows: list[tuple[float, float]] = []
        self._decision_sorted: list[float] = []
        self._breakpoints_sorted: list[float] = []
        self._due_index: list[tuple[float, int]] = []
        self._due_times: list[float] = []
        self._add_course(0.0)

    def _add_course(self, start_h: float) -> None:
        self.courses_started += 1
        new = [a for a in self.regimen.administrations(course=self.courses_started, course_start_h=start_h)
               if a.time_h <= self.t_end + EPS_T]
        self.schedule.extend(new)
        if new:
            self.windows.append((start_h, max(a.end_h for a in new) + ACTIVE_AFTER_LAST_DOSE_H))
        times = {a.time_h for a in new}
        monitor = self.policy.monitoring_times(tuple(new), self.t_end) if new else ()
        times |= {float(x) for x in monitor if start_h - EPS_T <= x <= self.t_end}
        self.decision_times |= times
        self.breakpoints |= times
        self.course_decision_at = None
        if new and hasattr(self.policy, "next_course"):
            last = max(a.time_h for a in self.regimen.administrations(course=self.courses_started,
                                                                       course_start_h=start_h))
            at = math.ceil((last + self.RETREAT_WAIT_H) / 24.0 - 1e-9) * 24.0
            if at <= self.t_end + EPS_T:
                self.course_decision_at = at
                self.decision_times.add(at)
                self.breakpoints.add(at)

    @staticmethod
    def _sorted(values: set[float], cache: list) -> list[float]:
        if len(cache) != len(values):  # the sets only grow
            cache[:] = sorted(values)
        return cache

    def is_decision_time(self, t: float) -> bool:
        times = self._sorted(self.decision_times, self._decision_sorted)
        k = bisect.bisect_left(times, t - EPS_T)
        return k < len(times) and times[k] <= t + EPS_T

    def is_course_decision(self, t: float) -> bool:
        return self.course_decision_at is not None and abs(t - self.course_decision_at) <= EPS_T

    def decide_next_course(self, t: float, observation: Observation) -> None:
        if self.policy.next_course(observation, self.courses_started):
            self._add_course(t)
        else:
            self.course_decision_at = None

    def due(self, t: float) -> list:
        # the schedule only grows (courses are appended): its times, sorted, with each entry's place
        if len(self._due_index) != len(self.schedule):
            self._due_index[:] = sorted((a.time_h, k) for k, a in enumerate(self.schedule))
            self._due_times[:] = [x for x, _ in self._due_index]
        lo = bisect.bisect_left(self._due_times, t - 2 * EPS_T)  # a margin for rounding; the test below decides
        hi = bisect.bisect_right(self._due_times, t + 2 * EPS_T)
        return [self.schedule[k] for k in sorted(k for _, k in self._due_index[lo:hi])
                if abs(self.schedule[k].time_h - t) <= EPS_T]

    def add_breakpoint(self, t: float) -> None:
        if t < self.t_end:
            self.breakpoints.add(t)

    def add_decision(self, t: float) -> None:
        """A decision time the policy asked for (``Decision.recheck_h``), if inside the run."""
        if t <= self.t_end + EPS_T and not self.is_decision_time(t):
            self.decision_times.add(t)
            self.breakpoints.add(min(t, self.t_end))

    def end_at(self, t: float) -> None:
        """The run ends at ``t`` (a death): no later decision, course or dose."""
        self.t_end = t
        self.course_decision_at = None

    def next_breakpoint(self, t: float) -> float:
        times = self._sorted(self.breakpoints, self._breakpoints_sorted)
        return times[bisect.bisect_right(times, t + EPS_T)]


def _interrupt(t: float, decision: Decision, records: list[DoseRecord], timed: list[tuple[float, int, float]],
               iv_index: int, run: _Schedule) -> list[tuple[float, int, float]]:
    """End the drug infusions running at ``t`` (``Decision.interrupt``); returns the timed inputs left."""
    for k, rec in enumerate(records):
        a = rec.administration
        if rec.running_at(t, EPS_T):
            records[k] = replace(rec, interrupted_h=t, interrupted_by=decision.rule_id)
            if decision.interrupt == "stop":
                run.stopped_cycles.setdefault((a.course, a.cycle), decision.rule_id)
    return [x for x in timed if not (x[1] == iv_index and x[0] > t + EPS_T)]


def _numpy_observe(individual: IndividualModel) -> Callable[[np.ndarray, np.ndarray], dict[str, float]]:
    cm = individual.model.compiled
    p = individual.p

    def observe(y: np.ndarray, u: np.ndarray) -> dict[str, float]:
        _, obs, _ = cm.evaluate(0.0, y.reshape(-1, 1), p, tuple(u))
        return {n: float(np.asarray(v).reshape(-1)[0]) for n, v in obs.items()}

    return observe


def drive(
    individual: IndividualModel,
    regimen: Regimen,
    policy: Policy,
    *,
    days: float,
    output_step_h: float,
    run_in: bool,
    engine: str,
    solver: Mapping[str, Any],
    stats: dict[str, int],
    observe: Callable[[np.ndarray, np.ndarray], dict[str, float]] | None = None,
    observe_array: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    throw: bool = False,
    follow_up_step_h: float | None = None,
    stop_at_death: bool = True,
) -> Generator[Segment, None, SimulationResult]:
    """The protocol loop for one patient; yields segments, returns the result.

    ``observe(y, u)`` gives the observables (name -> value) of a state under
    controls ``u`` (default: the NumPy evaluator); ``observe_array(y, u)``,
    when given, the same values as an array in ``observable_names`` order
    (read at once: it may be a reused buffer), which the death check after
    each segment reads instead. ``stats`` is the engine's
    counter dictionary; ``solver`` its settings, recorded in the provenance.

    Output samples (:class:`OutputGrid`) are every ``output_step_h`` while a
    course is active (from its start to :data:`ACTIVE_AFTER_LAST_DOSE_H` after
    its last scheduled dose) and every ``follow_up_step_h`` outside (``None``:
    ``output_step_h`` throughout), plus the state at the end of the run.
    After each segment the model's death indices (observables
    ``death_index_<cause>``) are read; one at or above 1 ends the run there
    (the patient died of that cause): no later decision, course or dose, and
    the last sample is that state. ``stop_at_death=False`` (or a policy whose
    ``stops_at_death`` is False, such as the pharmacology probe
    :class:`~il2sim.protocol.GiveAllPolicy`) runs on past a death index
    (pharmacology without the death laws; the indices stay in the output, so
    the analysis still dates the death).
    """
    started = _time.perf_counter()
    regimen.require_dosable(individual.patient)  # a user error, not a failed simulation
    cm = individual.model.compiled
    observe = observe or _numpy_observe(individual)
    pnamed = individual.named_parameters()
    n_controls = len(cm.control_names)
    iv_index = cm.control_names.index("drug_iv_rate")
    death_indices = [(n, n.removeprefix("death_index_")) for n in cm.observable_names if n.startswith("death_index_")]

    death_at = [cm.observable_names.index(n) for n, _ in death_indices]
    checks_death = bool(death_indices and stop_at_death and getattr(policy, "stops_at_death", True))

    def end_check(y_now: np.ndarray, u_now: np.ndarray) -> str:
        if not checks_death:
            return ""
        if observe_array is not None:
            arr = observe_array(y_now, u_now)
            return next((f"died:{cause}" for k, (_n, cause) in zip(death_at, death_indices) if arr[k] >= 1.0), "")
        values = observe(y_now, u_now)
        return next((f"died:{cause}" for name, cause in death_indices if values[name] >= 1.0), "")

    # ---------------------------------------------------------------- run-in
    status, message = Status.SUCCESS, ""
    y_end = None
    seg = run_in_segment(individual, run_in)
    if seg is not None:
        try:
            yield seg
            y_end = seg.y
        except (SolverFailure, ArithmeticError, ValueError) as exc:
            status, message = Status.SOLVER_FAILED, f"run-in: {exc}"
    y, rescale = after_run_in(individual, y_end)

    # ------------------------------------------------------------ treatment
    t_end = 24.0 * float(days)
    run = _Schedule(policy, regimen, t_end)
    grid = OutputGrid(output_step_h, follow_up_step_h, run.windows)
    chunks_t: list[np.ndarray] = []
    chunks_y: list[np.ndarray] = []
    chunks_u: list[np.ndarray] = []
    records: list[DoseRecord] = []
    decisions: list[tuple[float, Decision]] = []
    history: list[tuple[float, dict[str, float]]] = []
    history_cache: dict = {}  # the policy's memo of this run's history (History.cache)
    base = np.zeros(n_controls)          # piecewise-constant controls set by decisions
    timed: list[tuple[float, int, float]] = []  # (end time, control index, rate): infusions and boluses
    t = 0.0
    ended_by = ""

    def effective() -> np.ndarray:
        u = base.copy()
        for _end, k, rate in timed:
            u[k] += rate
        return u

    try:
        if status is not Status.SUCCESS:
            raise SolverFailure(message)
        while True:
            # timed inputs ending now
            timed = [x for x in timed if x[0] > t + EPS_T]
            if run.is_decision_time(t) and not ended_by:  # a death ends the run before anything is decided
                u_in = effective()
                values = observe(y, u_in)
                in_force = dict(zip(cm.control_names, u_in.tolist()))
                if run.is_course_decision(t):  # first, so that a new course's first dose is due now
                    run.decide_next_course(t, Observation(time_h=t, values=values, doses=tuple(records), due=(),
                                                          controls=in_force, history=History(history, len(history), history_cache)))
                due = run.due(t)
                live = [a for a in due if (a.course, a.cycle) not in run.stopped_cycles]
                for a in due:
                    if (a.course, a.cycle) in run.stopped_cycles:
                        records.append(DoseRecord(len(records), a, False, held_by=run.stopped_cycles[(a.course, a.cycle)],
                                                  stopped=True))
                observation = Observation(time_h=t, values=values, doses=tuple(records), due=tuple(live),
                                          controls=in_force, history=History(history, len(history), history_cache))
                decision = policy.decide(observation)
                decisions.append((t, decision))
                history.append((t, {**values, **observation.controls}))
                if decision.interrupt is not None:
                    timed = _interrupt(t, decision, records, timed, iv_index, run)
                if decision.recheck_h is not None:
                    run.add_decision(round(t + float(decision.recheck_h), 9))
                for name, value in decision.controls.items():
                    base[cm.control_names.index(name)] = float(value)
                for name, rate, hours in decision.infusions:
                    timed.append((t + float(hours), cm.control_names.index(name), float(rate)))
                    run.add_breakpoint(t + float(hours))
                for a in live:
                    if decision.dose in ("give", None):
                        amount = individual.patient.dose_amount(a.amount, a.unit)
                        if a.route == "iv" and a.infusion_minutes > 0:
                            timed.append((a.end_h, iv_index, amount / (a.infusion_minutes / 60.0)))
                            run.add_breakpoint(a.end_h)
                        else:
                            dose_jump(cm, y, a.route, amount, pnamed)
                        records.append(DoseRecord(len(records), a, True))
                    elif decision.dose == "hold":
                        records.append(DoseRecord(len(records), a, False, held_by=decision.rule_id))
                    else:
                        run.stopped_cycles[(a.course, a.cycle)] = decision.rule_id
                        records.append(DoseRecord(len(records), a, False, held_by=decision.rule_id, stopped=True))
            u_now = effective()
            if t >= t_end - EPS_T or ended_by:
                chunks_t.append(np.array([t]))
                chunks_y.append(y.reshape(1, -1).copy())
                chunks_u.append(u_now.reshape(1, -1).copy())
                break
            t_next = min(run.next_breakpoint(t), t_end)
            sel = grid.points(t, t_next)
            seg = Segment(t, t_next, y.copy(), u_now, sel)
            yield seg
            if len(sel):
                samples = np.array(seg.samples_y, dtype=float)
                if abs(sel[0] - t) <= EPS_T:
                    samples[0] = y  # the post-event state at t exactly
                chunks_t.append(sel)
                chunks_y.append(samples)
                chunks_u.append(np.repeat(u_now.reshape(1, -1), len(sel), axis=0))
            y = np.array(seg.y, dtype=float)
            if not np.all(np.isfinite(y)):
                raise SolverFailure(f"non-finite state on [{t:g}, {t_next:g}] h")
            t = t_next
            ended_by = end_check(y, effective())
            if ended_by:
                run.end_at(t)
    except (SolverFailure, ArithmeticError, ValueError) as exc:
        status, message = Status.SOLVER_FAILED, str(exc)
        if throw:
            raise RuntimeError(message) from exc
    # scheduled doses never reached (end of the run inside a course, or a failure)
    for a in run.schedule[len(records):]:
        if a.time_h <= t_end + EPS_T:
            records.append(DoseRecord(len(records), a, False, held_by=ended_by or "not_reached"))

    if chunks_t:
        t_out = np.concatenate(chunks_t)
        y_out = np.concatenate(chunks_y)
        u_out = np.concatenate(chunks_u)
    else:
        t_out, y_out, u_out = np.zeros(0), np.zeros((0, cm.n_states)), np.zeros((0, n_controls))
    provenance = {
        "package": "il2sim",
        "version": __version__,
        "engine": engine,
        "solver": dict(solver),
        "indication": individual.patient.indication,
        "patient_id": individual.patient.patient_id,
        "covariates": {
            "weight_kg": individual.patient.covariates.weight_kg,
            "nephrectomy": individual.patient.covariates.nephrectomy,
            "lesion_diameters_mm": list(individual.patient.lesion_diameters()),
            "height_cm": individual.patient.covariates.height_cm,
        },
        "parameter_overrides": dict(individual.patient.parameters),
        "model": {"label": individual.model.label, "hash": individual.model.hash,
                  "overrides": dict(individual.model.overrides)},
        "molecule": individual.model.molecule.to_dict(),
        "regimen": regimen.to_dict(),
        "policy": getattr(policy, "name", type(policy).__name__),
        "courses_started": run.courses_started,
        "days": float(days),
        "output_step_h": float(output_step_h),
        "follow_up_step_h": None if follow_up_step_h is None else float(follow_up_step_h),
        "ended_by": ended_by,
        "run_in_days": individual.run_in_h / 24.0 if run_in else 0.0,
        "run_in_lesion_rescale": [float(x) for x in rescale],
        "wall_time_s": _time.perf_counter() - started,
    }
    return SimulationResult(
        individual=individual,
        regimen=regimen,
        t=t_out,
        y=y_out,
        controls=u_out,
        doses=tuple(records),
        decisions=tuple(decisions),
        status=status,
        message=message or status.value,
        provenance=provenance,
        stats=stats,
    )
