"""Virtual populations: the shipped calibrated pools (the default) and the prior they were drawn from
(the parameter table's variability and covariates)."""

from ._calibrated import (
    CalibratedPool as CalibratedPool,
)
from ._calibrated import (
    CalibrationWarning as CalibrationWarning,
)
from ._calibrated import (
    load_pool as load_pool,
)
from ._sampling import (
    DEFAULT_FILTERS as DEFAULT_FILTERS,
)
from ._sampling import (
    SOURCES as SOURCES,
)
from ._sampling import (
    Draw as Draw,
)
from ._sampling import (
    Filter as Filter,
)
from ._sampling import (
    PopulationSpec as PopulationSpec,
)
from ._sampling import (
    draw_patient as draw_patient,
)
from ._sampling import (
    sample_population as sample_population,
)
