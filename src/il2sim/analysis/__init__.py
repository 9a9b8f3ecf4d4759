"""Trial analysis: RECIST 1.1 response scoring and non-compartmental PK analysis."""

from ._nca import (
    NCAResult as NCAResult,
    fit_half_life as fit_half_life,
    nca as nca,
)
from ._recist import (
    RESPONSE_CATEGORIES as RESPONSE_CATEGORIES,
    Scan as Scan,
    best_overall_response as best_overall_response,
    scan_times_h as scan_times_h,
    score_response as score_response,
    timepoint_response as timepoint_response,
)
from ._summary import (
    adverse_events as adverse_events,
    care_summary as care_summary,
    citations as citations,
    first_dose_pk as first_dose_pk,
    recist_scans as recist_scans,
    summarize as summarize,
)
from ._adverse import (
    CTCAE_CRITERIA as CTCAE_CRITERIA,
    LABEL_MAPPING as LABEL_MAPPING,
    LABEL_TARGETS as LABEL_TARGETS,
    TERMS as TERMS,
    GradeCriterion as GradeCriterion,
    LabelRule as LabelRule,
    label_reported as label_reported,
    worst_grades as worst_grades,
)
from ._endpoints import (
    arm_summary as arm_summary,
    trial_summary as trial_summary,
    wilson_interval as wilson_interval,
)
