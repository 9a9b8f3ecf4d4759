"""The fast engine: compiled Rodas4 segments under the shared protocol loop.

Each patient's run is the coroutine :func:`il2sim.engine._driver.drive` (the
same protocol logic as the reference engine); the batch runner in
:mod:`il2sim.engine._registry` keeps a batch of them in flight, and this
module integrates their segments with the compiled kernel
(:mod:`il2sim.engine._jit`, :mod:`il2sim.engine._rodas_kernel`). Each
patient keeps its own step size from segment to segment, and nothing in one
patient's arithmetic depends on another's, so a patient's result is the same
in any batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import IndividualModel
from ._driver import Segment, SolverFailure, atol_scale
from ._jit import kernel

__all__ = ["FastSettings", "FastSegments"]

_STATUS_TEXT = {1: "too many steps", 2: "step size underflow", 3: "non-finite derivative"}


@dataclass(frozen=True, slots=True)
class FastSettings:
    """Integrator settings of the fast engine.

    ``rtol`` and ``atol`` mean what they mean for the reference engine
    (``atol`` is scaled per state by :func:`il2sim.engine.atol_scale`).
    ``first_step_h`` is the first step of a patient's run; later segments
    start from the patient's last proposed step. ``max_steps`` bounds the
    accepted steps of one segment (between two decision times).

    ``restart``: a segment that starts at a discontinuity (its controls differ
    from the previous segment's, an infusion's start or end, or a dose jumped
    the state) starts from the first step the patient's last segment with the
    same change accepted (the sign of each control's change keys it; no
    earlier one: ``first_step_h``), when that is smaller than the carried
    step, instead of collapsing the carried step by rejections. A patient's
    step sequence still depends on its own history only.
    """

    method: str = "Rodas4"
    rtol: float = 1e-6
    atol: float = 1e-8
    max_step_h: float = float("inf")
    first_step_h: float = 1e-4
    max_steps: int = 100_000
    restart: bool = True

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
        if not isinstance(self.restart, bool):
            raise ValueError(f"FastSettings.restart: got {self.restart!r}, expected True or False")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol, "max_step_h": self.max_step_h,
                "first_step_h": self.first_step_h, "max_steps": self.max_steps, "restart": self.restart}


class FastSegments:
    """Integrates one patient's segments with the compiled kernel, carrying its step size and counters."""

    __slots__ = ("atol", "counters", "first", "h", "integrate", "kernel", "observe", "observe_array", "p", "scale",
                 "solver", "stats", "structure", "u_last", "y_last")

    def __init__(self, individual: IndividualModel, solver: FastSettings) -> None:
        cm = individual.model.compiled
        self.kernel = kernel(cm)
        self.solver = solver
        self.p = np.asarray(individual.p, dtype=float)
        self.scale = atol_scale(individual)
        self.atol = solver.atol * self.scale
        self.h = solver.first_step_h
        self.first: dict[bytes, float] = {}  # the kind of discontinuity -> the first step accepted after the last one
        self.u_last: bytes | None = None  # the controls and the end state of the last segment
        self.y_last = b""
        self.counters = np.zeros(5, dtype=np.int64)  # steps, rejected, rhs evaluations, jacobians, LUs
        self.stats: dict[str, int] = {"steps": 0, "rejected": 0, "nfev": 0, "njev": 0, "nlu": 0, "segments": 0}
        obs_buf = np.empty(self.kernel.module.N_OBSERVABLES)
        names = cm.observable_names
        observe_nb = self.kernel.module.observe
        p = self.p

        def observe(y: np.ndarray, u: np.ndarray) -> dict[str, float]:
            observe_nb(y, p, u, obs_buf)
            return dict(zip(names, obs_buf.tolist()))

        def observe_array(y: np.ndarray, u: np.ndarray) -> np.ndarray:
            observe_nb(y, p, u, obs_buf)
            return obs_buf

        self.observe = observe
        self.observe_array = observe_array
        self.integrate = self.kernel.module.integrate
        self.structure = self.kernel.structure

    def provenance(self) -> dict[str, Any]:
        return self.solver.to_dict() | {"jacobian_colours": self.kernel.n_colours}

    def finish(self) -> None:
        """Copy the kernel's counters into ``stats``."""
        c = self.counters
        self.stats.update(steps=int(c[0]), rejected=int(c[1]), nfev=int(c[2]), njev=int(c[3]), nlu=int(c[4]))

    def __call__(self, seg: Segment) -> None:
        """Integrate ``seg`` in place; raises :class:`SolverFailure` when the kernel gives up."""
        s = self.solver
        self.stats["segments"] += 1
        h0, key = self.h, b""
        if s.restart and self.u_last is not None:
            u_bytes = seg.u.tobytes()
            if u_bytes != self.u_last:
                key = np.sign(seg.u - np.frombuffer(self.u_last)).tobytes()
            if seg.y.tobytes() != self.y_last:
                key = b"jump" + key
            if key:
                h0 = min(h0, self.first.get(key, s.first_step_h))
        status, h, h_first = self.integrate(
            float(seg.t0), float(seg.t1), seg.y, self.p, seg.u, h0, s.rtol, self.atol, self.scale,
            s.max_step_h, s.max_steps, seg.samples_t, seg.samples_y, *self.structure, self.counters)
        if status != 0:
            raise SolverFailure(f"Rodas4 failed on [{seg.t0:g}, {seg.t1:g}] h: {_STATUS_TEXT.get(int(status), status)}")
        if math.isfinite(h) and h > 0:
            self.h = h
        if key and h_first > 0:
            self.first[key] = h_first
        self.u_last = seg.u.tobytes()
        self.y_last = seg.y.tobytes()
