"""The engine interface, the registry of engines and the one place that runs them.

An engine is a way of integrating the segments the protocol loop
(:func:`il2sim.engine._driver.drive`) yields. It is registered here as an
:class:`Engine`: a name, its settings class (frozen, with ``to_dict``) and a
factory that builds a per-patient *segment integrator* satisfying
:class:`SegmentIntegrator`. Everything else (argument checks, the batch of
coroutines in flight, failure handling, the run-in for
:func:`initial_state`) is written once, below, for every engine.

Adding an engine: write a module with its settings class and integrator (see
:mod:`il2sim.engine._scipy`, about 100 lines) and add one :class:`Engine`
entry to :data:`ENGINES`; the CLI's ``--engine`` and the trial runner read
the registry.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from .._errors import UserError
from ..model import IndividualModel, Patient, derive_constants
from ..protocol import ClinicalProtocol, Policy, Regimen, resolve_regimen
from ._driver import Segment, SolverFailure, after_run_in, drive, run_in_segment
from ._fast import FastSegments, FastSettings
from ._result import SimulationResult, SolverSettings
from ._scipy import ScipySegments

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_POLICY",
    "ENGINES",
    "Engine",
    "SegmentIntegrator",
    "SimulationFailedWarning",
    "get_engine",
    "initial_state",
    "resolve_engine",
    "simulate",
    "simulate_batch",
    "simulate_fast",
]


class SegmentIntegrator(Protocol):
    """One patient's integrator: fills a :class:`Segment` in place or raises :class:`SolverFailure`."""

    stats: dict[str, int]

    def __call__(self, seg: Segment) -> None: ...

    def provenance(self) -> dict[str, Any]: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class Engine:
    """A registered engine.

    Attributes
    ----------
    name
        The ``engine=`` / ``--engine`` value.
    settings_type
        Its frozen settings class; ``settings_type()`` are the defaults.
    integrator
        ``integrator(individual, settings)`` -> a :class:`SegmentIntegrator`.
    description
        One line for ``--help`` and the docs.
    """

    name: str
    settings_type: type
    integrator: Callable[[IndividualModel, Any], SegmentIntegrator]
    description: str

    def default_settings(self) -> Any:
        return self.settings_type()


ENGINES: Mapping[str, Engine] = MappingProxyType({
    "fast": Engine("fast", FastSettings, FastSegments,
                   "compiled Rodas4 with an analytic Jacobian and sparse LU (numba)"),
    "scipy": Engine("scipy", SolverSettings, ScipySegments,
                    "the reference: scipy.integrate.solve_ivp (BDF by default)"),
})
"""Engine name -> :class:`Engine`, fastest first."""

DEFAULT_ENGINE = "fast"
"""What ``il2sim simulate`` and ``il2sim trial`` use."""

MAX_IN_FLIGHT = 64
"""The most runs :func:`simulate_batch` keeps in flight at once (a patient's result does not depend on it)."""

DEFAULT_POLICY: Policy = ClinicalProtocol()
"""The treating team of ``il2sim simulate`` and ``il2sim trial`` without options: the ``pivotal``
rules, supportive care, up to 3 courses (frozen, so one value serves every run)."""


class SimulationFailedWarning(UserWarning):
    """A run that did not reach its end time (``throw=False``): the result says why."""


def get_engine(name: str) -> Engine:
    """The registered engine ``name``; :class:`~il2sim.UserError` (field ``engine``) for any other."""
    if not isinstance(name, str) or name not in ENGINES:
        raise UserError("engine", name, "one of " + ", ".join(ENGINES))
    return ENGINES[name]


def resolve_engine(engine: str | None, solver: Any = None, *, default: str = "scipy") -> tuple[Engine, Any]:
    """The engine and its settings from ``engine=`` and ``solver=`` (the one place they are resolved).

    ``engine`` None takes the engine whose settings class ``solver`` is, or
    ``default`` when ``solver`` is None too. Settings of another engine's
    class are refused (a ``TypeError``, a programming error).
    """
    if engine is None:
        if solver is None:
            eng = get_engine(default)
        else:
            matches = [e for e in ENGINES.values() if isinstance(solver, e.settings_type)]
            if not matches:
                raise TypeError(f"solver: got {type(solver).__name__}, expected the settings of an engine "
                                f"({', '.join(e.settings_type.__name__ for e in ENGINES.values())})")
            eng = matches[0]
    else:
        eng = get_engine(engine)
    settings = eng.default_settings() if solver is None else solver
    if not isinstance(settings, eng.settings_type):
        raise TypeError(f"solver: got {type(settings).__name__}, expected {eng.settings_type.__name__} "
                        f"for the {eng.name} engine")
    return eng, settings


def _check_run(days: float, output_step_h: float) -> None:
    if isinstance(days, bool) or not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
        raise ValueError(f"days: got {days!r}, expected a positive number")
    if isinstance(output_step_h, bool) or not (isinstance(output_step_h, (int, float)) and math.isfinite(output_step_h)
                                               and output_step_h > 0):
        raise ValueError(f"output_step_h: got {output_step_h!r}, expected a positive number of hours")


def _regimen(regimen: Regimen | str) -> Regimen:
    """A :class:`Regimen` as given, or the named regimen / scenario file a string names."""
    if isinstance(regimen, Regimen):
        return regimen
    if isinstance(regimen, str):
        return resolve_regimen(regimen)
    raise TypeError(f"regimen: got {type(regimen).__name__}, expected an il2sim.protocol.Regimen or the name of one "
                    "(il2sim regimens)")


def _individual(patient: Patient | IndividualModel) -> IndividualModel:
    return patient if isinstance(patient, IndividualModel) else derive_constants(patient)


class _Run:
    """One patient in flight: its protocol coroutine, pending segment and integrator."""

    __slots__ = ("gen", "integrate", "seg")

    def __init__(self, individual: IndividualModel, regimen: Regimen, policy: Policy, engine: Engine, settings: Any,
                 days: float, output_step_h: float, run_in: bool, throw: bool,
                 follow_up_step_h: float | None = None, stop_at_death: bool = True) -> None:
        self.integrate = engine.integrator(individual, settings)
        self.gen = drive(individual, regimen, policy, days=days, output_step_h=output_step_h, run_in=run_in,
                         engine=engine.name, solver=self.integrate.provenance(), stats=self.integrate.stats,
                         observe=getattr(self.integrate, "observe", None),
                         observe_array=getattr(self.integrate, "observe_array", None), throw=throw,
                         follow_up_step_h=follow_up_step_h, stop_at_death=stop_at_death)
        self.seg: Segment | None = None

    def advance(self) -> SimulationResult | None:
        """Integrate the pending segment and resume the coroutine; the result when the run ends."""
        try:
            if self.seg is None:
                self.seg = next(self.gen)
                return None
            try:
                self.integrate(self.seg)
            except SolverFailure as exc:
                self.integrate.finish()
                self.seg = self.gen.throw(exc)
                return None
            self.seg = self.gen.send(None)
            return None
        except StopIteration as stop:
            self.integrate.finish()
            return stop.value


def simulate_batch(
    patients: Sequence[Patient | IndividualModel],
    regimen: Regimen | str,
    *,
    days: float,
    policy: Policy | Callable[[], Policy] | None = None,
    engine: str | None = None,
    solver: Any = None,
    output_step_h: float = 0.25,
    run_in: bool = True,
    throw: bool = False,
    on_result: Callable[[int, SimulationResult], None] | None = None,
    follow_up_step_h: float | None = None,
    stop_at_death: bool = True,
) -> list[SimulationResult | None]:
    """Simulate many patients on one regimen, their runs in flight together.

    Parameters
    ----------
    patients
        :class:`~il2sim.model.Patient` values (each carries its model) or
        their precomputed :class:`~il2sim.model.IndividualModel`.
    policy
        A policy shared by all patients (policies keep no per-patient state:
        everything they use is in the observation) or a zero-argument factory
        called once per patient; default :data:`DEFAULT_POLICY`, the
        protocol ``il2sim simulate`` and ``il2sim trial`` use.
    engine, solver
        The engine (default ``"fast"`` for a batch) and its settings
        (:func:`resolve_engine`).
    on_result
        Called ``on_result(index, result)`` as soon as each patient finishes;
        the result is then not kept (the list holds ``None``), so a large
        batch need not hold every time course at once.
    follow_up_step_h
        Output spacing outside the courses (from 21 days after a course's
        last scheduled dose to the next course), h; ``None``: ``output_step_h``
        throughout.
    stop_at_death
        End a run when the patient dies (a death index of the model reaches
        1; default); ``False`` runs on (pharmacology without the death laws).

    Other parameters are those of :func:`simulate`.
    """
    _check_run(days, output_step_h)
    regimen = _regimen(regimen)
    regimen.require_dose_by(24.0 * float(days), "days", days)
    eng, settings = resolve_engine(engine, solver, default=DEFAULT_ENGINE)
    results: list[SimulationResult | None] = [None] * len(patients)
    individuals = [_individual(p) for p in patients]  # every patient checked before any runs

    def start(i: int) -> tuple[int, _Run]:
        pol: Any = policy() if callable(policy) and not hasattr(policy, "decide") else policy
        return i, _Run(individuals[i], regimen, pol if pol is not None else DEFAULT_POLICY,
                       eng, settings, float(days), float(output_step_h), run_in, throw,
                       follow_up_step_h, stop_at_death)

    # At most MAX_IN_FLIGHT runs at once, the next patient started as one finishes: each run holds its time
    # course until it ends, so thousands in flight held gigabytes and ran slower (cache misses).
    waiting = iter(range(len(patients)))
    active: list[tuple[int, _Run]] = [start(i) for i in islice(waiting, MAX_IN_FLIGHT)]
    while active:
        still: list[tuple[int, _Run]] = []
        for i, run in active:
            result = run.advance()
            if result is None:
                still.append((i, run))
                continue
            if on_result is not None:
                on_result(i, result)
            else:
                results[i] = result
            following = next(waiting, None)
            if following is not None:
                still.append(start(following))
        active = still
    return results


def simulate(
    patient: Patient | IndividualModel,
    regimen: Regimen | str,
    *,
    days: float,
    policy: Policy | None = None,
    engine: str | None = None,
    solver: Any = None,
    output_step_h: float = 0.25,
    run_in: bool = True,
    throw: bool = False,
    follow_up_step_h: float | None = None,
    stop_at_death: bool = True,
) -> SimulationResult:
    """Simulate one patient on one regimen.

    Parameters
    ----------
    patient
        A :class:`~il2sim.model.Patient` (it carries its model), or its
        precomputed :class:`~il2sim.model.IndividualModel`.
    regimen
        The schedule of one course (:mod:`il2sim.protocol`); further courses
        repeat it when the policy's ``next_course`` says so.
    days
        Simulate from t = 0 to ``24 * days`` h inclusive.
    policy
        Asked at every decision time; default :data:`DEFAULT_POLICY`, what
        ``il2sim simulate`` uses: :class:`il2sim.protocol.ClinicalProtocol`
        with the ``pivotal`` rules, supportive care and up to 3 courses.
        Every dose with no care and one course is
        :class:`il2sim.protocol.GiveAllPolicy`; other rules or orders,
        ``ClinicalProtocol(rules="consensus", care=False, ...)``.
    engine
        A name from :data:`ENGINES`. ``None``: the engine of ``solver``'s
        settings class, else the reference engine ``"scipy"``.
    solver
        The engine's settings (:class:`SolverSettings` for ``scipy``,
        :class:`FastSettings` for ``fast``); ``None`` for its defaults.
    output_step_h
        Spacing of the output grid (0.25 h by default).
    run_in
        Integrate the untreated run-in before t = 0 (default); otherwise start
        from the analytic steady state with the lesions at diagnosis size.
    throw
        Raise ``RuntimeError`` on solver failure instead of returning a
        status; without it a failed run warns (:class:`SimulationFailedWarning`)
        and returns ``success=False`` with the part computed.
    follow_up_step_h
        Output spacing outside the courses, h (:func:`simulate_batch`);
        ``None``: ``output_step_h`` throughout.
    stop_at_death
        End the run at a death (default) or run on (:func:`simulate_batch`).

    Returns
    -------
    SimulationResult
        Ends early when the patient dies (a death index of the model reaches
        1; ``provenance["ended_by"]`` names the cause).
    """
    return _warn_failed(_simulate_one(patient, regimen, days=days, policy=policy, engine=engine, solver=solver,
                                      output_step_h=output_step_h, run_in=run_in, throw=throw,
                                      follow_up_step_h=follow_up_step_h, stop_at_death=stop_at_death))


def _simulate_one(patient: Patient | IndividualModel, regimen: Regimen | str, **kw: Any) -> SimulationResult:
    eng, settings = resolve_engine(kw.pop("engine"), kw.pop("solver"))
    out = simulate_batch([patient], regimen, engine=eng.name, solver=settings, **kw)[0]
    assert out is not None
    return out


def _warn_failed(out: SimulationResult) -> SimulationResult:
    if not out.success:
        warnings.warn(f"simulation failed: {out.message}; the result holds the time course up to the failure "
                      "(pass throw=True to raise instead)", SimulationFailedWarning, stacklevel=3)
    return out


def simulate_fast(patient: Patient | IndividualModel, regimen: Regimen | str, *, days: float,
                  policy: Policy | None = None, output_step_h: float = 0.25,
                  solver: FastSettings | None = None, run_in: bool = True, throw: bool = False,
                  follow_up_step_h: float | None = None, stop_at_death: bool = True) -> SimulationResult:
    """:func:`simulate` with the fast engine."""
    return _warn_failed(_simulate_one(patient, regimen, days=days, policy=policy, engine="fast", solver=solver,
                                      output_step_h=output_step_h, run_in=run_in, throw=throw,
                                      follow_up_step_h=follow_up_step_h, stop_at_death=stop_at_death))


def initial_state(patient: Patient | IndividualModel, solver: Any = None, run_in: bool = True, *,
                  engine: str | None = None) -> np.ndarray:
    """The state at t = 0 from which the engines start the treatment.

    The untreated run-in, integrated by the engine of ``engine``/``solver``
    (:func:`resolve_engine`; default: the fast engine, what ``il2sim
    simulate`` uses), the lesions rescaled to their diagnosis sizes and the
    counters of ``RESET_AT_T0`` zeroed; with ``run_in=False`` the analytic
    steady state with the lesions at diagnosis. Ordered as
    ``patient.model.compiled.state_ids``.

    Raises
    ------
    RuntimeError
        If the solver fails during the run-in.
    """
    eng, settings = resolve_engine(engine, solver, default=DEFAULT_ENGINE)
    individual = _individual(patient)
    seg = run_in_segment(individual, run_in)
    if seg is not None:
        try:
            eng.integrator(individual, settings)(seg)
        except SolverFailure as exc:
            raise RuntimeError(f"run-in: {exc}") from exc
        if not np.all(np.isfinite(seg.y)):
            raise RuntimeError(f"run-in: {eng.name} engine: non-finite state")
    return after_run_in(individual, seg.y if seg is not None else None)[0]
