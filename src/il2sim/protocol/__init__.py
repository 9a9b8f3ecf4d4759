"""Dosing protocol: regimens, their expanded schedules and scenario files."""

from ._regimen import (
    NAMED_REGIMENS as NAMED_REGIMENS,
    Administration as Administration,
    DoseBlock as DoseBlock,
    Regimen as Regimen,
    load_scenario as load_scenario,
    resolve_regimen as resolve_regimen,
)
from ._policy import (
    Decision as Decision,
    DoseRecord as DoseRecord,
    GiveAllPolicy as GiveAllPolicy,
    NoTreatmentPolicy as NoTreatmentPolicy,
    Observation as Observation,
    Policy as Policy,
)
from ._clinical import (
    RULE_SETS as RULE_SETS,
    ClinicalProtocol as ClinicalProtocol,
    Rule as Rule,
    SupportiveCare as SupportiveCare,
    make_policy as make_policy,
)
from ._rules import early_warning_score as early_warning_score
