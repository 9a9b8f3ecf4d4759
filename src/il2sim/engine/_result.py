"""Simulation results: time course, dosing record, status and provenance."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..model import IndividualModel
from ..protocol import Decision, DoseRecord, Regimen

__all__ = ["SimulationResult", "SolverSettings", "Status"]


class Status(enum.Enum):
    """Outcome of a simulation; the value is a human-readable message."""

    SUCCESS = "the simulation reached the end time"
    SOLVER_FAILED = "the ODE solver failed before the end time (see message)"


@dataclass(frozen=True, slots=True)
class SolverSettings:
    """Integrator settings of the reference engine.

    ``method`` is a SciPy ``solve_ivp`` method; the stiff ``BDF`` is the
    default. ``atol`` is scaled per state by a typical magnitude (baseline
    value or unit floor), so it is a relative-to-scale tolerance.
    """

    method: str = "BDF"
    rtol: float = 1e-6
    atol: float = 1e-8
    max_step_h: float = float("inf")

    def __post_init__(self) -> None:
        if self.method not in ("BDF", "Radau", "LSODA", "RK45", "DOP853"):
            raise ValueError(f"SolverSettings.method: got {self.method!r}, expected BDF, Radau, LSODA, RK45 or DOP853")
        if not 0 < self.rtol < 1:
            raise ValueError(f"SolverSettings.rtol: got {self.rtol!r}, expected 0 < rtol < 1")
        if not self.atol > 0:
            raise ValueError(f"SolverSettings.atol: got {self.atol!r}, expected > 0")
        if not self.max_step_h > 0:
            raise ValueError(f"SolverSettings.max_step_h: got {self.max_step_h!r}, expected > 0")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol, "max_step_h": self.max_step_h}


@dataclass(frozen=True)
class SimulationResult:
    """One patient's simulated course.

    Attributes
    ----------
    t
        Output times (h), the regular grid from 0 to the end.
    y
        States at ``t``, shape ``(n_times, n_states)``, columns in
        ``individual.model.compiled.state_ids`` order.
    controls
        Control inputs in force at ``t`` (after any event at that time).
    doses
        The dosing record: one :class:`DoseRecord` per scheduled administration.
    decisions
        ``(time_h, Decision)`` for every decision time reached.
    status, message
        Solver outcome; on failure ``t``/``y`` hold what was computed.
    """

    individual: IndividualModel
    regimen: Regimen
    t: np.ndarray
    y: np.ndarray
    controls: np.ndarray
    doses: Sequence[DoseRecord]
    decisions: Sequence[tuple[float, Decision]]
    status: Status
    message: str
    provenance: Mapping[str, Any] = field(default_factory=dict)
    stats: Mapping[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status is Status.SUCCESS

    @cached_property
    def _evaluated(self) -> tuple[dict, dict]:
        cm = self.individual.model.compiled
        alg, obs, _ = cm.evaluate(self.t, self.y.T, self.individual.p, tuple(self.controls.T))
        n = len(self.t)
        full = lambda v: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()  # noqa: E731
        return {k: full(v) for k, v in alg.items()}, {k: full(v) for k, v in obs.items()}

    @property
    def observables(self) -> dict[str, np.ndarray]:
        """Observable name -> values at ``t``."""
        return self._evaluated[1]

    @property
    def algebraics(self) -> dict[str, np.ndarray]:
        """Every intermediate quantity of the equations at ``t`` (for diagnostics)."""
        return self._evaluated[0]

    def state(self, state_id: str) -> np.ndarray:
        """One state's values at ``t``."""
        return self.y[:, self.individual.model.compiled.state_index(state_id)]

    def timecourse(self):
        """The contract time course as a pandas DataFrame: ``time_h``, states, observables."""
        import pandas as pd

        cm = self.individual.model.compiled
        cols: dict[str, np.ndarray] = {"time_h": self.t}
        for i, sid in enumerate(cm.state_ids):
            cols[sid] = self.y[:, i]
        for name, values in self.observables.items():
            if name in cols:
                continue
            cols[name] = values
        for k, name in enumerate(cm.control_names):
            if name not in cols:
                cols[name] = self.controls[:, k]
        return pd.DataFrame(cols)

    def control(self, name: str) -> np.ndarray:
        """One control input (as in force at each output time)."""
        return self.controls[:, self.individual.model.compiled.control_names.index(name)]

    def doses_table(self):
        """The contract dosing record as a pandas DataFrame (``doses.csv``)."""
        import pandas as pd

        patient = self.individual.patient
        mol = patient.model.molecule
        weight = float(patient.covariates.weight_kg)
        rows = []
        for rec in self.doses:
            a = rec.administration
            amount_mg = patient.dose_mg(a.amount, a.unit)
            if a.unit == "iu_per_kg":
                amount_iu = a.amount * weight
            else:
                amount_iu = amount_mg * mol.iu_per_mg if mol.iu_per_mg is not None else float("nan")
            rows.append({
                "dose_index": rec.dose_index,
                "time_h": a.time_h,
                "day": a.day,
                "course": a.course,
                "cycle": a.cycle,
                "amount_iu_per_kg": a.amount if a.unit == "iu_per_kg" else amount_iu / weight,
                "route": a.route,
                "infusion_minutes": a.infusion_minutes,
                "given": rec.given,
                "held_by": rec.held_by,
                "stopped": rec.stopped,
                "interrupted_h": float("nan") if rec.interrupted_h is None else float(rec.interrupted_h),
                "interrupted_by": rec.interrupted_by,
                "fraction_given": rec.fraction_given,
                "amount": a.amount,
                "amount_unit": a.unit,
                "amount_iu": amount_iu,
                "amount_mg": amount_mg,
                "amount_nmol": amount_mg * 1e-3 / (mol.molecular_weight_kda * 1000.0) * 1e9,
            })
        columns = ["dose_index", "time_h", "day", "course", "cycle", "amount_iu_per_kg", "route",
                   "infusion_minutes", "given", "held_by", "stopped", "interrupted_h", "interrupted_by",
                   "fraction_given", "amount", "amount_unit", "amount_iu", "amount_mg", "amount_nmol"]
        return pd.DataFrame(rows, columns=columns)
