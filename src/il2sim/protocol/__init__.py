"""Dosing protocol: regimens, their expanded schedules and scenario files."""

from ._clinical import (
    RULE_SETS as RULE_SETS,
)
from ._clinical import (
    ClinicalProtocol as ClinicalProtocol,
)
from ._clinical import (
    Rule as Rule,
)
from ._clinical import (
    RuleSet as RuleSet,
)
from ._clinical import (
    SupportiveCare as SupportiveCare,
)
from ._clinical import (
    make_policy as make_policy,
)
from ._policy import (
    Decision as Decision,
)
from ._policy import (
    DoseRecord as DoseRecord,
)
from ._policy import (
    GiveAllPolicy as GiveAllPolicy,
)
from ._policy import (
    History as History,
)
from ._policy import (
    NoTreatmentPolicy as NoTreatmentPolicy,
)
from ._policy import (
    Observation as Observation,
)
from ._policy import (
    Policy as Policy,
)
from ._regimen import (
    NAMED_REGIMENS as NAMED_REGIMENS,
)
from ._regimen import (
    Administration as Administration,
)
from ._regimen import (
    DoseBlock as DoseBlock,
)
from ._regimen import (
    Regimen as Regimen,
)
from ._regimen import (
    load_scenario as load_scenario,
)
from ._regimen import (
    resolve_regimen as resolve_regimen,
)
from ._rules import early_warning_score as early_warning_score
from ._rules import graded_warning_points as graded_warning_points
from ._rules import rule_set as rule_set
from ._rules import toxicity_burden as toxicity_burden
