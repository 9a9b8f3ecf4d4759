"""Virtual trials: a validated, picklable spec, per-batch rows, back ends and the resumable runner.

:class:`TrialSpec` carries the model, each arm's regimen and parameters, the
clinical protocol and the engine by value; :func:`run_trial` runs it into a
directory (manifest, chunk files, resume, ``patients.parquet``,
``summary.json``), in this process, in local processes or on a Dask cluster,
with the same rows everywhere.
"""

from ._backends import TrialJobError as TrialJobError
from ._rows import BATCH as BATCH
from ._rows import RETRY_SOLVER as RETRY_SOLVER
from ._rows import arm_rows as arm_rows
from ._runner import run_trial as run_trial
from ._spec import Arm as Arm
from ._spec import TrialSpec as TrialSpec
