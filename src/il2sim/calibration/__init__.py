"""Calibration of the virtual population to the pivotal high-dose trials (``il2sim calibrate``)."""

from ._maxent import MaxEntResult as MaxEntResult, kish_ess as kish_ess, maxent_weights as maxent_weights
from ._pipeline import (
    FIT_PARAMETERS as FIT_PARAMETERS,
    CalibrationSettings as CalibrationSettings,
    FitParameter as FitParameter,
    calibrate as calibrate,
    features_of as features_of,
)
from ._targets import Target as Target, load_targets as load_targets, wilson_interval as wilson_interval
