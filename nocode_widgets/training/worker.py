"""The worker process of one run: `python -m nocode_widgets.training.worker RUN_ID`, started
detached by `jobs.LocalProcessRunner` with the workspace's settings in NOCODE_* variables.

It waits until its run is the oldest queued run and a device slot is free (slots are file locks,
released by the system when the process ends, however it ends), then trains. SIGTERM asks for a
cancel, like the Cancel button. torch is imported only once the run has a slot, so waiting workers
stay small.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from filelock import FileLock, Timeout

from ..store import Table
from ..workspace import Workspace
from .runs import RunRecord, load_run, run_folder, write_progress

POLL_S = 0.3


def gpu_count() -> int:
    """NVIDIA GPUs on this machine, without importing torch."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


def slot_locks(ws: Workspace) -> list[tuple[int, FileLock]]:
    """One lock per concurrent run allowed: `max_concurrent_runs` per device (the CPU, or each GPU)."""
    folder = ws.settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    count = ws.settings.max_concurrent_runs * max(1, gpu_count())
    return [(k, FileLock(str(folder / f"slot-{k}.lock"))) for k in range(count)]


def oldest_queued(ws: Workspace) -> str | None:
    queued = ws.store.find(Table.RUNS, status="queued")
    return min(queued, key=lambda d: (d["created"], d["id"]))["id"] if queued else None


def wait_for_turn(ws: Workspace, run: RunRecord) -> tuple[int, FileLock] | None:
    """Block until this run may start; None if it stopped being queued meanwhile (cancelled)."""
    from .jobs import reconcile

    folder = run_folder(ws, run)
    slots = slot_locks(ws)
    last_beat = 0.0
    while True:
        current = load_run(ws, run.id)
        if current.status != "queued":
            return None
        if time.time() - last_beat > 5:
            write_progress(folder, {"phase": "waiting for a free slot", "started": time.time()})
            last_beat = time.time()
            for doc in ws.store.find(Table.RUNS, status="queued"):  # a queued run whose worker died blocks the queue
                if doc["id"] != run.id and doc["created"] <= run.created:
                    reconcile(ws, RunRecord.from_doc(doc))
        if oldest_queued(ws) == run.id:
            for k, lock in slots:
                try:
                    lock.acquire(timeout=0)
                    return k, lock
                except Timeout:
                    continue
        time.sleep(POLL_S)


def main(run_id: str) -> int:
    ws = Workspace.open()
    run = load_run(ws, run_id)
    folder = run_folder(ws, run)
    signal.signal(signal.SIGTERM, lambda *_: (folder / "cancel").touch())
    slot = wait_for_turn(ws, run)
    if slot is None:
        return 0
    k, lock = slot
    gpus = gpu_count()
    if gpus and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(k % gpus)
    try:
        from .engine import execute_run

        execute_run(ws, run_id)
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
