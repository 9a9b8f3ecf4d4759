"""Calibration of the virtual population to the pivotal high-dose trials (``il2sim calibrate``)."""

from ._maxent import MaxEntResult as MaxEntResult
from ._maxent import kish_ess as kish_ess
from ._maxent import maxent_weights as maxent_weights
from ._pipeline import (
    FIT_PARAMETERS as FIT_PARAMETERS,
)
from ._pipeline import (
    CalibrationSettings as CalibrationSettings,
)
from ._pipeline import (
    FitParameter as FitParameter,
)
from ._pipeline import (
    calibrate as calibrate,
)
from ._pipeline import (
    features_of as features_of,
)
from ._targets import Target as Target
from ._targets import load_targets as load_targets
