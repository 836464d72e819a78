"""The worker process of one run: `python -m nocode_widgets.training.worker RUN_ID`, started
detached by `runner.LocalProcessRunner` when the fair queue (`queue.schedule`) gives the run a slot,
with the workspace's settings in NOCODE_* variables.

It takes a device slot (a file lock, released by the system when the process ends, however it
ends; a worker that just finished may hold one for a moment), trains, then asks the queue to start
the next run. SIGTERM asks for a cancel, like the Cancel button. With `NOCODE_RUNNER=ray` it prepares
and records here and fits on the Ray cluster (`on_ray.RayFitter`).
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.time()  # before the imports, which are part of a run's fixed cost

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from filelock import FileLock, Timeout  # noqa: E402

from ..workspace import Workspace  # noqa: E402
from ..runs.queue import capacity, gpu_count, schedule  # noqa: E402
from ..runs.records import load_run, run_folder, update_run, write_progress  # noqa: E402

POLL_S = 0.2


def slot_locks(ws: Workspace) -> list[tuple[int, FileLock]]:
    folder = ws.settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    return [(k, FileLock(str(folder / f"slot-{k}.lock"))) for k in range(capacity(ws))]


def take_slot(ws: Workspace, run_id: str) -> tuple[int, FileLock] | None:
    """A free slot lock (k picks the GPU); None if the run stopped being queued meanwhile."""
    folder = run_folder(ws, load_run(ws, run_id))
    slots, beat = slot_locks(ws), 0.0
    while load_run(ws, run_id).status == "queued":
        for k, lock in slots:
            try:
                lock.acquire(timeout=0)
                return k, lock
            except Timeout:
                continue
        if time.time() - beat > 2:  # still alive: the queue must not take this for a hung worker
            write_progress(folder, {"phase": "starting", "started": time.time()})
            beat = time.time()
        time.sleep(POLL_S)
    return None


def fitter(ws: Workspace, run_id: str, slot: int):
    """Where the run fits: here (on the slot's GPU when there are several), or on the Ray cluster."""
    if ws.settings.runner == "ray":
        from .on_ray import RayFitter

        run = load_run(ws, run_id)
        folder = run_folder(ws, run)
        return RayFitter(ws.settings, placed=lambda where: update_run(ws, run_id, remote=where),
                         should_stop=lambda: (folder / "cancel").exists()).start(run.config.get("device") or "auto")
    gpus = gpu_count()
    if gpus and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % gpus)
    return None


def main(run_id: str) -> int:
    ws = Workspace.open()
    folder = run_folder(ws, load_run(ws, run_id))
    signal.signal(signal.SIGTERM, lambda *_: (folder / "cancel").touch())
    write_progress(folder, {"phase": "starting", "started": time.time()})
    slot = take_slot(ws, run_id)
    if slot is not None:
        k, lock = slot
        try:
            where = fitter(ws, run_id, k)  # before torch's import, which joining a Ray cluster overlaps
            from .engine import execute_run

            execute_run(ws, run_id, PROCESS_STARTED, where)
        finally:
            lock.release()
    schedule(ws)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
