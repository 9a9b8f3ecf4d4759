"""Engines: the SciPy reference engine (and, later, a fast batched engine)."""

from ._result import SimulationResult as SimulationResult, SolverSettings as SolverSettings, Status as Status
from ._scipy import atol_scale as atol_scale, simulate as simulate
