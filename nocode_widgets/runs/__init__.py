"""The run service: torch-free, imported by page kernels and the CLI; it starts torch in processes of
its own and never imports `training/`.

`records`: `RunRecord`, the run folder and its files. `train_config`: `TrainConfig` and Auto. `facts`:
dataset facts and the device probe. `plan`: what Train shows before Start. `jobs`: submit, cancel, get,
follow. `queue`: the fair queue and device slots. `runner`: starting and reconciling worker processes.
`events`: the typed events a run reports. `groups`: what the scheduler does with open groups of runs;
`studies`: comparisons and baggings; `ensemble`: soft votes kept as runs."""

from .events import BatchDone, EpochDone, PhaseChanged, Restarted
from .jobs import RunProgress, cancel, follow, submit
from .records import RunRecord, get_run, list_runs, newest_runs, run_folder
from .train_config import TrainConfig

__all__ = ["BatchDone", "EpochDone", "PhaseChanged", "Restarted", "RunProgress", "RunRecord", "TrainConfig",
           "cancel", "follow", "get_run", "list_runs", "newest_runs", "run_folder", "submit"]
