"""The fair run queue. A queued run is only a record: no process waits for it. `schedule` starts
workers while device slots are free, and any process may call it (a submit, a cancel, a finishing
worker, a page or CLI reading the runs); a file lock makes one scheduler act at a time, so no daemon
needs to run.

Order: round-robin across users. A run's rank is how many of its owner's runs are ahead of it
(running, or queued earlier); the lowest rank starts first, ties go to the user served longest ago,
then to submission order. So a user's second run never starts before another user's first.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from filelock import FileLock, Timeout

from ..store import Table
from ..workspace import Workspace
from .groups import top_up
from .runner import RUNNER, reconcile
from .records import ACTIVE, RunRecord, load_run, transition

log = logging.getLogger("nocode_widgets.queue")


def gpu_count() -> int:
    """NVIDIA GPUs on this machine, without importing torch."""
    import os

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


def capacity(ws: Workspace) -> int:
    """Runs that may train at once: `max_concurrent_runs` per device here (the CPU, or each GPU); on a Ray
    cluster, `max_concurrent_runs` in all (this machine's GPUs do not train)."""
    if ws.settings.runner == "ray":
        return ws.settings.max_concurrent_runs
    return ws.settings.max_concurrent_runs * max(1, gpu_count())


def fair_order(waiting: list[RunRecord], busy: list[RunRecord], last_served: dict[str, float]) -> list[RunRecord]:
    """The waiting runs in the order they should start (see the module's docstring)."""
    ahead = Counter(r.owner for r in busy)
    ranked = []
    for run in sorted(waiting, key=lambda r: (r.created, r.id)):
        ranked.append(((ahead[run.owner], last_served.get(run.owner, 0.0), run.created, run.id), run))
        ahead[run.owner] += 1
    return [run for _, run in sorted(ranked, key=lambda pair: pair[0])]


def schedule(ws: Workspace, runner=None) -> list[str]:
    """Reconcile the active runs (dead or silent workers end `interrupted`), then start workers for
    the fairest waiting runs while slots are free. Returns the ids started."""
    runner = runner or RUNNER
    folder = ws.settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / "schedule.lock"))
    try:
        lock.acquire(timeout=ws.settings.store_lock_timeout_s)
    except Timeout:
        log.warning("the scheduler lock is held too long; leaving scheduling to its holder")
        return []
    try:
        top_up(ws)  # comparisons and baggings queue their next runs as their owners get room
        docs = ws.store.watched(Table.RUNS)  # the active runs of everyone, from the watch list
        active = [reconcile(ws, RunRecord.from_doc(d), runner) for d in docs
                  if d["status"] in ACTIVE]
        busy = [r for r in active if r.is_active and not r.waiting]
        waiting = [r for r in active if r.waiting]
        last_served = {owner: s.get("last_served", 0.0) for owner, s in ws.store.owner_summaries().items()}
        free = capacity(ws) - len(busy)
        return [run.id for run in fair_order(waiting, busy, last_served)[:max(free, 0)] if _launch(ws, run, runner)]
    finally:
        lock.release()


def _launch(ws: Workspace, run: RunRecord, runner) -> bool:
    if not transition(ws, run.id, ("queued",), launched=time.time()):
        return False  # cancelled meanwhile
    try:
        runner.start(ws, load_run(ws, run.id))
    except Exception as exc:  # noqa: BLE001 - the run must not stay launched without a worker
        log.exception("could not start the worker of run %s", run.id)
        transition(ws, run.id, ("queued",), status="failed", finished=time.time(),
                   error=f"The training process could not be started ({type(exc).__name__}). Please try again.")
        return False
    return True
