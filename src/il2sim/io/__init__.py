"""Input and output: writing simulation results (time course, doses, summary, figure)."""

from ._outputs import (
    DOSES_COLUMNS as DOSES_COLUMNS,
    OUTPUT_FORMATS as OUTPUT_FORMATS,
    check_output_dir as check_output_dir,
    save_figure as save_figure,
    to_json_safe as to_json_safe,
    write_simulation as write_simulation,
)
from ._trial import TrialSpec as TrialSpec, patient_row as patient_row, run_trial as run_trial
from ._sbml import export_sbml as export_sbml
