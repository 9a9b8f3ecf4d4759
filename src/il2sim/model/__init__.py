"""The model layer: states, parameter table, the equation declaration and patients."""

from ._codegen import CompiledModel as CompiledModel, compiled_model as compiled_model, model_hash as model_hash
from ._patient import (
    Covariates as Covariates,
    IndividualModel as IndividualModel,
    Patient as Patient,
    derive_constants as derive_constants,
    indications as indications,
    typical_patient as typical_patient,
)
from ._spec import (
    ALGEBRAICS as ALGEBRAICS,
    CONTROLS as CONTROLS,
    DERIVED as DERIVED,
    DOSE_TARGETS as DOSE_TARGETS,
    OBSERVABLES as OBSERVABLES,
    RATES as RATES,
    RESET_AT_T0 as RESET_AT_T0,
    SIGNED_STATES as SIGNED_STATES,
    STATES as STATES,
    StateSpec as StateSpec,
    Symbol as Symbol,
)
from ._table import (
    Parameter as Parameter,
    ParameterTable as ParameterTable,
    Reference as Reference,
    load_table as load_table,
)
