"""The fast engine: compiled Rodas4 segments under the shared protocol loop.

Each patient's run is the coroutine :func:`il2sim.engine._driver.drive` (the
same protocol logic as the reference engine). :func:`simulate_batch` keeps a
batch of them in flight and integrates their segments with the compiled
kernel (:mod:`il2sim.engine._jit`, :mod:`il2sim.engine._rodas_kernel`). Each
patient keeps its own step size from segment to segment, and nothing in one
patient's arithmetic depends on another's, so a patient's result is the same
in any batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..model import IndividualModel, Patient, compiled_model, derive_constants
from ..protocol import GiveAllPolicy, Policy, Regimen
from ._driver import Segment, SolverFailure, drive
from ._jit import kernel
from ._result import SimulationResult

__all__ = ["FastSettings", "initial_state_fast", "simulate_batch", "simulate_fast"]

_STATUS_TEXT = {1: "too many steps", 2: "step size underflow", 3: "non-finite derivative"}


@dataclass(frozen=True, slots=True)
class FastSettings:
    """Integrator settings of the fast engine.

    ``rtol`` and ``atol`` mean what they mean for the reference engine
    (``atol`` is scaled per state by :func:`il2sim.engine.atol_scale`).
    ``first_step_h`` is the first step of a patient's run; later segments
    start from the patient's last proposed step. ``max_steps`` bounds the
    accepted steps of one segment (between two decision times).
    """

    method: str = "Rodas4"
    rtol: float = 1e-6
    atol: float = 1e-8
    max_step_h: float = float("inf")
    first_step_h: float = 1e-4
    max_steps: int = 100_000

    def __post_init__(self) -> None:
        if self.method != "Rodas4":
            raise ValueError(f"FastSettings.method: got {self.method!r}, expected 'Rodas4'")
        if not 0 < self.rtol < 1:
            raise ValueError(f"FastSettings.rtol: got {self.rtol!r}, expected 0 < rtol < 1")
        if not self.atol > 0:
            raise ValueError(f"FastSettings.atol: got {self.atol!r}, expected > 0")
        if not self.max_step_h > 0:
            raise ValueError(f"FastSettings.max_step_h: got {self.max_step_h!r}, expected > 0")
        if not (isinstance(self.max_steps, int) and self.max_steps >= 1):
            raise ValueError(f"FastSettings.max_steps: got {self.max_steps!r}, expected an integer >= 1")
        if not self.first_step_h > 0:
            raise ValueError(f"FastSettings.first_step_h: got {self.first_step_h!r}, expected > 0")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol, "max_step_h": self.max_step_h,
                "first_step_h": self.first_step_h, "max_steps": self.max_steps}


class _SegmentIntegrator:
    """Integrates one patient's segments with the compiled kernel, carrying its step size and counters."""

    __slots__ = ("p", "scale", "atol", "h", "counters", "solver")

    def __init__(self, individual: IndividualModel, solver: FastSettings) -> None:
        from ._scipy import atol_scale

        self.solver = solver
        self.p = np.asarray(individual.p, dtype=float)
        self.scale = atol_scale(individual)
        self.atol = solver.atol * self.scale
        self.h = solver.first_step_h
        self.counters = np.zeros(5, dtype=np.int64)  # steps, rejected, rhs evaluations, jacobians, LUs

    def __call__(self, seg: Segment) -> None:
        """Integrate ``seg`` in place; raises :class:`SolverFailure` when the kernel gives up."""
        k = kernel()
        s = self.solver
        status, h = k.module.integrate(
            float(seg.t0), float(seg.t1), seg.y, self.p, seg.u, self.h, s.rtol, self.atol, self.scale,
            s.max_step_h, s.max_steps, seg.samples_t, seg.samples_y, *k.structure, self.counters)
        if status != 0:
            raise SolverFailure(f"Rodas4 failed on [{seg.t0:g}, {seg.t1:g}] h: {_STATUS_TEXT.get(int(status), status)}")
        if math.isfinite(h) and h > 0:
            self.h = h


class _Run:
    """One patient in flight: its coroutine, current segment and integrator."""

    __slots__ = ("gen", "seg", "integrate", "stats")

    def __init__(self, individual: IndividualModel, regimen: Regimen, policy: Policy, days: float,
                 output_step_h: float, solver: FastSettings, run_in: bool, throw: bool) -> None:
        k = kernel()
        cm = compiled_model()
        self.integrate = _SegmentIntegrator(individual, solver)
        self.stats: dict[str, int] = {"steps": 0, "rejected": 0, "nfev": 0, "njev": 0, "nlu": 0, "segments": 0}
        obs_buf = np.empty(k.module.N_OBSERVABLES)
        names = cm.observable_names
        observe_nb = k.module.observe
        p = self.integrate.p

        def observe(y: np.ndarray, u: np.ndarray) -> dict[str, float]:
            observe_nb(y, p, u, obs_buf)
            return dict(zip(names, obs_buf.tolist()))

        self.gen = drive(individual, regimen, policy, days=days, output_step_h=output_step_h, run_in=run_in,
                         engine="fast", solver=solver.to_dict() | {"jacobian_colours": k.n_colours},
                         stats=self.stats, observe=observe, throw=throw)
        self.seg: Segment | None = None

    def sync_stats(self) -> None:
        c = self.integrate.counters
        self.stats.update(steps=int(c[0]), rejected=int(c[1]), nfev=int(c[2]), njev=int(c[3]), nlu=int(c[4]))


def _advance(run: _Run) -> SimulationResult | None:
    """Integrate the run's pending segment and resume its coroutine; the result when it ends."""
    seg = run.seg
    try:
        if seg is None:
            run.seg = next(run.gen)
            return None
        try:
            run.integrate(seg)
        except SolverFailure as exc:
            run.stats["segments"] += 1
            run.sync_stats()
            run.seg = run.gen.throw(exc)
            return None
        run.stats["segments"] += 1
        run.seg = run.gen.send(None)
        return None
    except StopIteration as stop:
        run.sync_stats()
        return stop.value


def simulate_batch(
    patients: Sequence[Patient | IndividualModel],
    regimen: Regimen,
    *,
    days: float,
    policy: Policy | Callable[[], Policy] | None = None,
    output_step_h: float = 0.25,
    solver: FastSettings = FastSettings(),
    run_in: bool = True,
    throw: bool = False,
    on_result: Callable[[int, SimulationResult], None] | None = None,
) -> list[SimulationResult | None]:
    """Simulate many patients on one regimen with the fast engine.

    ``policy`` is a policy object shared by all patients (policies are
    stateless: everything they use is in the observation) or a zero-argument
    factory called once per patient. With ``on_result`` each result is
    handed over as soon as it is finished (``on_result(index, result)``) and
    not kept, so a large batch need not hold every time course at once; the
    returned list then holds ``None``.
    """
    if not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
        raise ValueError(f"days: got {days!r}, expected a positive number")
    if not (isinstance(output_step_h, (int, float)) and math.isfinite(output_step_h) and output_step_h > 0):
        raise ValueError(f"output_step_h: got {output_step_h!r}, expected a positive number of hours")
    results: list[SimulationResult | None] = [None] * len(patients)
    runs: list[tuple[int, _Run]] = []
    for i, patient in enumerate(patients):
        individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
        pol = policy() if callable(policy) and not hasattr(policy, "decide") else policy
        pol = pol if pol is not None else GiveAllPolicy()
        runs.append((i, _Run(individual, regimen, pol, float(days), float(output_step_h), solver, run_in, throw)))
    active = runs
    while active:
        still: list[tuple[int, _Run]] = []
        for i, run in active:
            result = _advance(run)
            if result is None:
                still.append((i, run))
            elif on_result is not None:
                on_result(i, result)
            else:
                results[i] = result
        active = still
    return results


def simulate_fast(patient: Patient | IndividualModel, regimen: Regimen, *, days: float,
                  policy: Policy | None = None, output_step_h: float = 0.25,
                  solver: FastSettings = FastSettings(), run_in: bool = True, throw: bool = False) -> SimulationResult:
    """One patient with the fast engine (same arguments as :func:`il2sim.engine.simulate`)."""
    result = simulate_batch([patient], regimen, days=days, policy=policy, output_step_h=output_step_h,
                            solver=solver, run_in=run_in, throw=throw)[0]
    assert result is not None
    return result


def initial_state_fast(patient: Patient | IndividualModel, solver: FastSettings = FastSettings(),
                       run_in: bool = True) -> np.ndarray:
    """The state at t = 0 from which :func:`simulate_fast` starts the treatment (run-in by the fast engine)."""
    from ._driver import after_run_in, run_in_segment

    individual = patient if isinstance(patient, IndividualModel) else derive_constants(patient)
    seg = run_in_segment(individual, run_in)
    if seg is None:
        return after_run_in(individual, None)[0]
    try:
        _SegmentIntegrator(individual, solver)(seg)
    except SolverFailure as exc:
        raise RuntimeError(f"run-in: {exc}") from exc
    if not np.all(np.isfinite(seg.y)):
        raise RuntimeError("run-in: Rodas4 failed: non-finite state")
    return after_run_in(individual, seg.y)[0]
