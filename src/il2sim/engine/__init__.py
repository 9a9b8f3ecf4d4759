"""Engines: the SciPy reference engine and the fast batched engine.

Both run the same protocol loop (:mod:`il2sim.engine._driver`); they differ
only in how a segment between two decision times is integrated.
"""

from ._fast import FastSettings as FastSettings, simulate_batch as simulate_batch, simulate_fast as simulate_fast
from ._result import SimulationResult as SimulationResult, SolverSettings as SolverSettings, Status as Status
from ._scipy import atol_scale as atol_scale, simulate as simulate
from ._scipy import initial_state as initial_state

ENGINES = ("fast", "scipy")
"""Engine names, fastest first (``--engine``)."""
