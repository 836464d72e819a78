"""The run service: training runs in detached worker processes, so a run outlives the page (Voila
kills or culls a page's kernel) and its progress is visible from any process.

- `submit` records the run as `queued` (at most `max_queued_runs_per_user` queued + running per
  user) and asks the fair queue (`queue.schedule`) to start workers while slots are free; a waiting
  run costs no process.
- `cancel` asks the worker to stop at the next batch (a `cancel` file in the run folder).
- Any reader (`get`, `runs`, `follow`) marks a run whose worker vanished as `interrupted`: its
  process is gone, or it sent no heartbeat for `heartbeat_timeout_s` (then it is terminated, so it
  frees its slot). A run never stays `running` forever, and every status change is a compare-and-set.
- `Runner` is the seam for another engine (a batch queue): it starts a worker for a run id, says
  whether it is alive and stops it; the UI and the fit loop do not change. Ray did not need a Runner of
  its own: its worker is the same local process, which fits on the cluster (`on_ray`, `NOCODE_RUNNER=ray`),
  so the queue, the slots, cancel and the liveness checks stay one piece of code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..accounts.auth import User, current_user
from ..datasets.catalog import get_trainable_dataset
from ..errors import TrainingError
from ..accounts.quota import check_space
from ..store import Table
from ..workspace import Workspace
from .train_config import TrainConfig
from .queue import schedule
from .runner import RUNNER, LocalProcessRunner, Runner, reconcile  # noqa: F401 - the service's names for them
from .records import (ACTIVE, FINAL, RunRecord, create_run, get_run, list_runs, load_run, read_history,
                      read_progress, run_folder, transition)

QUEUE_NUDGE_S = 5.0  # how often a page following a waiting run asks the queue to move


def submit(ws: Workspace, user: User, dataset_id: str, config: dict | None = None,
           runner: Runner | None = None, follows: str = "") -> RunRecord:
    """Queue a training run on the user's dataset; it starts when the fair queue gives it a slot
    (at once when one is free). Returns at once. `follows`: the run this one trains again (retrain.py)."""
    user = current_user(ws, user)
    config = {k: v for k, v in (config or {}).items() if v is not None}
    ds = check_trainable(ws, user, dataset_id, [config])
    run = create_run(ws, user, ds, config, limit=ws.settings.max_queued_runs_per_user, follows=follows)
    schedule(ws, runner)
    return load_run(ws, run.id)


def check_trainable(ws: Workspace, user: User, dataset_id: str, configs: list[dict]):
    """The dataset (the user's own, or one shared with a class of theirs), once every config is valid, the
    dataset can be trained on and there is space: what queuing a run (or a study's runs) needs, in plain words."""
    check_runner(ws)
    for config in configs:
        TrainConfig.from_json(config).check()
    ds = get_trainable_dataset(ws, user, dataset_id)
    with_pictures = [c for c in ds.classes if ds.counts.get(c, 0) >= 2]
    if len(with_pictures) < 2:
        raise TrainingError("Training needs at least two classes with at least two pictures each.")
    check_space(ws, user)
    return ds


RAY_MISSING = ("Training is set to run on a Ray cluster (NOCODE_RUNNER=ray), but Ray is not installed here. "
               "Install it with: pip install 'nocode_widgets[ray]' (or set NOCODE_RUNNER=local).")


def check_runner(ws: Workspace) -> None:
    """Refuse to queue a run the worker could not fit (Ray asked for and missing), in plain words."""
    import importlib.util

    if ws.settings.runner == "ray" and importlib.util.find_spec("ray") is None:
        raise TrainingError(RAY_MISSING)


def cancel(ws: Workspace, user: User, run_id: str) -> RunRecord:
    """Stop a run: a queued one at once, a running one at its next batch (it keeps its best epoch)."""
    run = get(ws, user, run_id)  # the owner's, or any for an admin
    transition(ws, run.id, ("queued",), status="cancelled", finished=time.time())
    if run.status in ACTIVE:
        (run_folder(ws, run) / "cancel").touch()
    return load_run(ws, run.id)


def get(ws: Workspace, user: User, run_id: str, runner: Runner | None = None) -> RunRecord:
    """The run as it stands, after marking it `interrupted` if its worker vanished."""
    return _fresh(ws, [get_run(ws, user, run_id)], runner)[0]


def runs(ws: Workspace, user: User, everyone: bool = False, runner: Runner | None = None) -> list[RunRecord]:
    return _fresh(ws, list_runs(ws, user, everyone), runner)


def all_runs(ws: Workspace, runner: Runner | None = None) -> list[RunRecord]:
    """Every run, newest first, for the machine's operator (the CLI without --user)."""
    docs = ws.store.find(Table.RUNS)  # every file: the operator's rare full listing
    return _fresh(ws, sorted((RunRecord.from_doc(d) for d in docs), key=lambda r: -r.created), runner)


def _fresh(ws: Workspace, records: list[RunRecord], runner: Runner | None) -> list[RunRecord]:
    """The records with every run whose worker vanished marked interrupted; then the queue moves on (its slot
    is free)."""
    fresh = [reconcile(ws, r, runner) if r.is_active else r for r in records]
    if any(old.is_active and not new.is_active for old, new in zip(records, fresh)):
        schedule(ws, runner)
    return fresh


@dataclass(frozen=True)
class RunProgress:
    """One look at a run: its status and the worker's latest progress."""

    run: RunRecord
    phase: str
    epoch: int
    epochs: int
    batch: int
    batches: int
    elapsed: float
    remaining_max: float | None
    history: list[dict]

    @property
    def fraction(self) -> float:
        """0..1 over the epoch cap (early stopping may end sooner)."""
        if self.run.status in FINAL:
            return 1.0
        if not self.epochs:
            return 0.0
        return min(1.0, ((self.epoch - 1) + (self.batch / self.batches if self.batches else 0)) / self.epochs)

    @property
    def text(self) -> str:
        """One plain line: "waiting in the queue", "running: epoch 3 of 10", "done after 6 epochs"."""
        if self.run.kind == "ensemble":
            return f"{self.run.status}: an ensemble of {len(self.run.members)} runs"
        if self.run.status in FINAL:
            return f"{self.run.status} after {len(self.history)} epoch{'' if len(self.history) == 1 else 's'}"
        if self.run.waiting or not self.epochs:
            return "waiting in the queue" if self.run.waiting else "starting"
        return f"{self.run.status}: epoch {self.epoch} of {self.epochs}"


def snapshot(ws: Workspace, run: RunRecord) -> RunProgress:
    folder = run_folder(ws, run)
    p = read_progress(folder)
    epoch = int(p.get("epoch", 0))
    batches = int(p.get("batches", 0))
    done_epochs = len(read_history(folder))
    if done_epochs >= epoch and p.get("batch") == batches:  # the last epoch is complete
        epoch, batch = done_epochs + 1, 0
    else:
        batch = int(p.get("batch", 0))
    epochs = int(p.get("epochs", 0))
    if epochs and epoch > epochs:  # every epoch done: the last one, complete
        epoch, batch = epochs, batches
    return RunProgress(run, p.get("phase", run.status), max(epoch, 1), epochs, batch, batches,
                       float(p.get("elapsed", 0.0)), p.get("remaining_max"), read_history(folder))


def follow(ws: Workspace, user: User, run_id: str, interval: float = 1.0, timeout: float | None = None,
           runner: Runner | None = None) -> Iterator[RunProgress]:
    """Yield the run's progress whenever it changes, until the run ends. Reads the run folder once per
    `interval` and the store only when the folder says something may have changed."""
    run = get(ws, user, run_id, runner)
    folder = run_folder(ws, run)
    last_seen, deadline, nudged = None, (time.time() + timeout if timeout else None), time.time()
    while True:
        stamp = _stamp(folder)
        if run.waiting and time.time() - nudged > QUEUE_NUDGE_S:  # a crashed worker cannot schedule
            schedule(ws, runner)
            nudged, last_seen = time.time(), None
        if stamp != last_seen or run.status in FINAL:
            run = get(ws, user, run_id, runner)
            last_seen = stamp
            yield snapshot(ws, run)
            if run.status in FINAL:
                return
        elif time.time() - (read_progress(folder).get("heartbeat") or 0) > ws.settings.heartbeat_timeout_s:
            run = get(ws, user, run_id, runner)  # silent: let reconcile decide
        if deadline and time.time() > deadline:
            return
        time.sleep(interval)


def _stamp(folder: Path) -> tuple:
    def mtime(name):
        try:
            return (folder / name).stat().st_mtime_ns
        except OSError:
            return 0

    return mtime("progress.json"), mtime("history.jsonl")
