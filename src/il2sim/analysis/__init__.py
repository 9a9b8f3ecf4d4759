"""Trial analysis: RECIST 1.1 response scoring, non-compartmental PK analysis and survival endpoints."""

from ._adverse import (
    CTCAE_CRITERIA as CTCAE_CRITERIA,
)
from ._adverse import (
    LABEL_MAPPING as LABEL_MAPPING,
)
from ._adverse import (
    LABEL_TARGETS as LABEL_TARGETS,
)
from ._adverse import (
    TERMS as TERMS,
)
from ._adverse import (
    GradeCriterion as GradeCriterion,
)
from ._adverse import (
    LabelRule as LabelRule,
)
from ._adverse import (
    label_reported as label_reported,
)
from ._adverse import (
    worst_grades as worst_grades,
)
from ._domain import DOMAIN_LIMITS as DOMAIN_LIMITS
from ._domain import DomainLimit as DomainLimit
from ._domain import out_of_domain as out_of_domain
from ._endpoints import (
    arm_summary as arm_summary,
)
from ._endpoints import (
    trial_summary as trial_summary,
)
from ._endpoints import (
    wilson_interval as wilson_interval,
)
from ._nca import (
    NCAResult as NCAResult,
)
from ._nca import (
    fit_half_life as fit_half_life,
)
from ._nca import (
    nca as nca,
)
from ._paired import paired_difference_ci as paired_difference_ci
from ._recist import (
    RESPONSE_CATEGORIES as RESPONSE_CATEGORIES,
)
from ._recist import (
    SCAN_SCHEDULE as SCAN_SCHEDULE,
)
from ._recist import (
    Scan as Scan,
)
from ._recist import (
    best_overall_response as best_overall_response,
)
from ._recist import (
    follow_up_scan_times_h as follow_up_scan_times_h,
)
from ._recist import (
    scan_times_h as scan_times_h,
)
from ._recist import (
    score_response as score_response,
)
from ._recist import (
    time_to_events as time_to_events,
)
from ._recist import (
    timepoint_response as timepoint_response,
)
from ._row import ENDPOINT_COLUMNS as ENDPOINT_COLUMNS
from ._row import N_SCAN_COLUMNS as N_SCAN_COLUMNS
from ._row import RENAL_RECOVERY_FRACTION as RENAL_RECOVERY_FRACTION
from ._row import patient_row as patient_row
from ._row import renal_recovery_days as renal_recovery_days
from ._summary import (
    DEATH_CAUSES as DEATH_CAUSES,
)
from ._summary import (
    adverse_events as adverse_events,
)
from ._summary import (
    care_summary as care_summary,
)
from ._summary import (
    citations as citations,
)
from ._summary import (
    death as death,
)
from ._summary import (
    first_dose_pk as first_dose_pk,
)
from ._summary import (
    recist_scans as recist_scans,
)
from ._summary import (
    summarize as summarize,
)
from ._survival import (
    TIME_TO_EVENT_COLUMNS as TIME_TO_EVENT_COLUMNS,
)
from ._survival import (
    WEEKS_PER_MONTH as WEEKS_PER_MONTH,
)
from ._survival import (
    WEEKS_PER_YEAR as WEEKS_PER_YEAR,
)
from ._survival import (
    arm_survival as arm_survival,
)
from ._survival import (
    has_time_to_event as has_time_to_event,
)
from ._survival import (
    hazard_ratios as hazard_ratios,
)
from ._survival import (
    km_endpoint as km_endpoint,
)
