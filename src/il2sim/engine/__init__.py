"""Engines: the fast compiled engine and the SciPy reference engine, behind one interface.

Every engine runs the same protocol loop (:mod:`il2sim.engine._driver`); they
differ only in how a segment between two decision times is integrated. The
registry (:data:`ENGINES`, :mod:`il2sim.engine._registry`) is the one place
an ``engine=`` name is resolved.
"""

from ._driver import atol_scale as atol_scale
from ._fast import FastSettings as FastSettings
from ._registry import (
    DEFAULT_ENGINE as DEFAULT_ENGINE,
)
from ._registry import (
    DEFAULT_POLICY as DEFAULT_POLICY,
)
from ._registry import (
    ENGINES as ENGINES,
)
from ._registry import (
    Engine as Engine,
)
from ._registry import (
    SegmentIntegrator as SegmentIntegrator,
)
from ._registry import (
    SimulationFailedWarning as SimulationFailedWarning,
)
from ._registry import (
    get_engine as get_engine,
)
from ._registry import (
    initial_state as initial_state,
)
from ._registry import (
    resolve_engine as resolve_engine,
)
from ._registry import (
    simulate as simulate,
)
from ._registry import (
    simulate_batch as simulate_batch,
)
from ._registry import (
    simulate_fast as simulate_fast,
)
from ._result import SimulationResult as SimulationResult
from ._result import SolverSettings as SolverSettings
from ._result import Status as Status
