"""Rows of a batch of patients on one arm: draw, simulate, retry a failure, reduce (the one place a batch is computed)."""

from __future__ import annotations

from typing import Any

from .._errors import UserError
from .._version import __version__
from ..analysis import patient_row
from ..engine import SolverSettings, simulate, simulate_batch
from ..population import Draw
from ._spec import TrialSpec

__all__ = ["BATCH", "RETRY_SOLVER", "arm_rows", "rows_job"]

BATCH = 8
"""Patients in flight at once in one process (each holds its time course until reduced)."""

FOLLOW_UP_STEP_H = 24.0
"""Output spacing of a trial outside its courses, h (inside: 0.25 h); scans fall on whole days."""

RETRY_SOLVER = SolverSettings(method="LSODA", rtol=1e-7, atol=1e-9)
"""A failed run is retried once with the reference engine's LSODA at tighter tolerances."""


def _draw_columns(draw: Draw) -> dict[str, int]:
    """The row columns that describe how the patient was drawn (-1: not from a calibrated pool)."""
    return {"rejected_draws": int(draw.n_rejected),
            "pool_index": -1 if draw.pool_index is None else int(draw.pool_index)}


def arm_rows(spec: TrialSpec, arm_index: int, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    """The rows of patients ``ids`` on arm ``arm_index``, in the order of ``ids``.

    The patients run :data:`BATCH` at a time through
    :func:`~il2sim.engine.simulate_batch` with the trial's engine, each
    reduced to its row as soon as it finishes; a patient's row does not
    depend on the batch.
    """
    arm = spec.arms[arm_index]
    days = spec.follow_up_weeks * 7.0
    draws = [spec.draw(i) for i in ids]
    patients: list[Any] = []
    for d in draws:
        p = spec.arm_patient(arm, d)
        # unchanged by the arm: run from what the steady-state filter derived (the same numbers, derived once)
        patients.append(d.individual if p is d.patient and d.individual is not None else p)
    rows: list[dict[str, Any]] = [{} for _ in ids]
    for lo in range(0, len(draws), BATCH):

        def reduce(k: int, result: Any, lo: int = lo) -> None:
            retried = not result.success
            if retried:
                result = simulate(patients[lo + k], arm.regimen, days=days, policy=spec.protocol, solver=RETRY_SOLVER,
                                  follow_up_step_h=FOLLOW_UP_STEP_H)
            rows[lo + k] = (patient_row(result, arm=arm.name, follow_up_weeks=spec.follow_up_weeks, retried=retried)
                            | _draw_columns(draws[lo + k]))

        simulate_batch(patients[lo: lo + BATCH], arm.regimen, days=days, policy=spec.protocol, engine=spec.engine,
                       solver=spec.solver, on_result=reduce, follow_up_step_h=FOLLOW_UP_STEP_H)
    return rows


class PicklableUserError(UserError):
    """A UserError that survives pickling (to the client from a process or a Dask worker)."""

    def __reduce__(self) -> tuple:
        return (type(self), (self.field, self.received, self.expected))


def rows_job(payload: bytes, arm_index: int, ids: tuple[int, ...],
             expect: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Worker entry point (top level, picklable): :func:`arm_rows` of a pickled :class:`TrialSpec`.

    ``payload`` is the spec pickled with cloudpickle (so a user's own rule
    set or care orders travel by value). ``expect`` is the client's
    ``(package version, model hash)``; a worker with another il2sim refuses
    the job instead of returning rows that differ.
    """
    import cloudpickle

    spec = cloudpickle.loads(payload)
    if expect is not None and tuple(expect) != (__version__, spec.model.hash):
        raise RuntimeError(f"this worker has il2sim {__version__} (model {spec.model.hash[:12]}), the client has "
                           f"il2sim {expect[0]} (model {expect[1][:12]}); install the same il2sim on every worker")
    try:
        return arm_rows(spec, arm_index, tuple(ids))
    except UserError as exc:  # e.g. a population whose filters reject every draw: reaches the client intact
        raise PicklableUserError(exc.field, exc.received, exc.expected) from None
