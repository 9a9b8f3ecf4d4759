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
engine; this module only integrates its segments with
``scipy.integrate.solve_ivp`` (BDF by default) and dense output for the
samples. It is registered as the ``"scipy"`` engine in
:mod:`il2sim.engine._registry`, which runs it.

Solver failures (and floating-point errors in the right-hand side) are
returned as ``Status.SOLVER_FAILED`` with what was computed so far; nothing is
raised unless ``throw=True``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from ..model import IndividualModel
from ._driver import Segment, SolverFailure, atol_scale
from ._result import SolverSettings

__all__ = ["RESTART_H", "ScipySegments"]

#: Longest stretch integrated by one solve_ivp call, h (see ScipySegments.__call__).
RESTART_H = 168.0


def _integrate(fun, t0, t1, y0, settings: SolverSettings, atol, dense: bool):
    # A trial step that the solver then rejects may overflow on the way (BDF's difference table after a
    # too-long step): that is SciPy's business, not an error. What it accepts must be finite, and is checked.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sol = solve_ivp(
            fun, (t0, t1), y0, method=settings.method, rtol=settings.rtol, atol=atol,
            max_step=settings.max_step_h, dense_output=dense,
            # SciPy's own first-step guess can fall below the float spacing of t late in a
            # run when an infusion starts from zero drug; a small explicit first step is robust
            first_step=min(1e-4, (t1 - t0) / 2),
        )
    if sol.status < 0:
        raise SolverFailure(f"solve_ivp ({settings.method}) failed on [{t0:g}, {t1:g}] h: {sol.message}")
    if not np.all(np.isfinite(sol.y)):
        raise SolverFailure(f"non-finite state on [{t0:g}, {t1:g}] h")
    return sol


class ScipySegments:
    """Integrates one patient's segments with solve_ivp, counting the work (the reference engine)."""

    def __init__(self, individual: IndividualModel, solver: SolverSettings) -> None:
        self.cm = individual.model.compiled
        self.p = individual.p
        self.solver = solver
        self.atol = solver.atol * atol_scale(individual)
        self.stats: dict[str, int] = {"nfev": 0, "njev": 0, "nlu": 0, "segments": 0}

    def provenance(self) -> dict:
        return self.solver.to_dict()

    def finish(self) -> None:
        """Nothing to collect: the counters are updated segment by segment."""

    def __call__(self, seg: Segment) -> None:
        """Integrate ``seg`` in place; raises :class:`SolverFailure` (also for errors in the right-hand side)."""
        try:
            self._integrate(seg)
        except (ArithmeticError, ValueError) as exc:
            raise SolverFailure(str(exc)) from exc
        self.stats["segments"] += 1

    def _integrate(self, seg: Segment) -> None:
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
                if not np.all(np.isfinite(seg.samples_y[inside])):
                    raise SolverFailure(f"non-finite output on [{a:g}, {b:g}] h")
            y = np.array(sol.y[:, -1], dtype=float)
        seg.y = y
