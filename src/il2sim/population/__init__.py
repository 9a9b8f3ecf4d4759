"""Virtual populations: the shipped calibrated pools (the default) and the prior they were drawn from
(the parameter table's variability and covariates)."""

from ._sampling import (
    DEFAULT_FILTERS as DEFAULT_FILTERS,
    SOURCES as SOURCES,
    Draw as Draw,
    Filter as Filter,
    PopulationSpec as PopulationSpec,
    draw_patient as draw_patient,
    sample_population as sample_population,
)
from ._calibrated import (
    CalibratedPool as CalibratedPool,
    CalibrationWarning as CalibrationWarning,
    load_pool as load_pool,
)
