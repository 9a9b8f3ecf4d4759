"""``il2sim validate``: the published comparisons as data (a registry), run and scored in one scorecard.

:func:`load_registry` reads and checks ``data/registry.toml`` (or another
file); :func:`run_validation` runs each distinct trial once and scores every
entry; :func:`write_outputs` writes ``validation.json`` and
``validation.html``. Nothing here prints.
"""

from ._output import cells as cells
from ._output import markdown as markdown
from ._output import provenance as provenance
from ._output import write_outputs as write_outputs
from ._registry import ENDPOINTS as ENDPOINTS
from ._registry import KINDS as KINDS
from ._registry import RULES as RULES
from ._registry import STATISTICS as STATISTICS
from ._registry import Entry as Entry
from ._registry import Registry as Registry
from ._registry import Simulation as Simulation
from ._registry import load_registry as load_registry
from ._registry import parse_registry as parse_registry
from ._runner import compute_statistic as compute_statistic
from ._runner import run_validation as run_validation
from ._scoring import Simulated as Simulated
from ._scoring import score as score
