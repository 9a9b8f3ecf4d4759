"""Input and output: writing simulation results (time course, doses, summary, figure) and the SBML export."""

from ._outputs import (
    DOSES_COLUMNS as DOSES_COLUMNS,
)
from ._outputs import (
    OUTPUT_FORMATS as OUTPUT_FORMATS,
)
from ._outputs import (
    check_output_dir as check_output_dir,
)
from ._outputs import (
    save_figure as save_figure,
)
from ._outputs import (
    to_json_safe as to_json_safe,
)
from ._outputs import (
    write_simulation as write_simulation,
)
from ._sbml import export_sbml as export_sbml
