"""Virtual populations: patients drawn from the parameter table's variability and covariates."""

from ._sampling import (
    DEFAULT_FILTERS as DEFAULT_FILTERS,
    Draw as Draw,
    Filter as Filter,
    PopulationSpec as PopulationSpec,
    draw_patient as draw_patient,
    sample_population as sample_population,
)
