"""The model layer: states, parameter table, the equation declaration, the model value and patients."""

from ._codegen import CompiledModel as CompiledModel
from ._model import Model as Model
from ._model import default_model as default_model
from ._molecule import DOSE_UNITS as DOSE_UNITS
from ._molecule import MOLECULE_KEYS as MOLECULE_KEYS
from ._molecule import Molecule as Molecule
from ._molecule import ValueSource as ValueSource
from ._molecule import body_surface_area as body_surface_area
from ._molecule import load_molecule as load_molecule
from ._molecule import resolve_molecule as resolve_molecule
from ._molecule import shipped_molecules as shipped_molecules
from ._patient import (
    Covariates as Covariates,
)
from ._patient import (
    IndividualModel as IndividualModel,
)
from ._patient import (
    Patient as Patient,
)
from ._patient import (
    derive_constants as derive_constants,
)
from ._patient import (
    indications as indications,
)
from ._patient import (
    typical_patient as typical_patient,
)
from ._receptors import CD25_STATES as CD25_STATES
from ._receptors import signal_ec50 as signal_ec50
from ._receptors import signal_fraction as signal_fraction
from ._spec import (
    ALGEBRAICS as ALGEBRAICS,
)
from ._spec import (
    CONTROLS as CONTROLS,
)
from ._spec import (
    DERIVED as DERIVED,
)
from ._spec import (
    DOSE_TARGETS as DOSE_TARGETS,
)
from ._spec import (
    OBSERVABLES as OBSERVABLES,
)
from ._spec import (
    RATES as RATES,
)
from ._spec import (
    RESET_AT_T0 as RESET_AT_T0,
)
from ._spec import (
    SIGNED_STATES as SIGNED_STATES,
)
from ._spec import (
    STATES as STATES,
)
from ._spec import (
    StateSpec as StateSpec,
)
from ._spec import (
    Symbol as Symbol,
)
from ._table import (
    Parameter as Parameter,
)
from ._table import (
    ParameterTable as ParameterTable,
)
from ._table import (
    Reference as Reference,
)
from ._table import (
    load_table as load_table,
)
