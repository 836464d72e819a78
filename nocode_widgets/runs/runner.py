"""Who runs a run's worker, and whether it is still there: `Runner` is the seam for another engine (a
batch queue); `LocalProcessRunner` starts a detached worker process per run on this machine; `reconcile`
marks an active run whose worker is gone as interrupted. Below the queue and the run service, which both
use it; it moves nothing on by itself."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Protocol

from ..files import process_exists
from ..warm_pool import start_detached, started_at, warm_fork
from ..workspace import Workspace
from .records import ACTIVE, INTERRUPTED, RunRecord, load_run, read_progress, run_folder, transition, update_run


class Runner(Protocol):
    def start(self, ws: Workspace, run: RunRecord) -> None:
        """Start a worker that executes `run` now (the queue decided it may) and record its pid."""

    def is_alive(self, run: RunRecord) -> bool | None:
        """Whether the run's worker still exists; None when this runner cannot tell."""

    def stop(self, run: RunRecord) -> None:
        """End the run's worker for good (it stopped answering)."""


class LocalProcessRunner:
    """A worker process per run on this machine, in a new session so it survives its caller."""

    def start(self, ws: Workspace, run: RunRecord) -> None:
        folder = run_folder(ws, run)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **ws.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        log = folder / "worker.log"
        pid = warm_fork(ws.settings, WORKER, [run.id], env, log) if ws.settings.warm_start else None
        if pid is None:
            pid = start_detached(WORKER, [run.id], env, log)
        update_run(ws, run.id, pid=pid, host=os.uname().nodename, pid_start=started_at(pid))

    def stop(self, run: RunRecord, grace: float = 5.0) -> None:
        """SIGTERM to the worker's process group (it asks for a cancel), SIGKILL if it is still there
        after `grace` seconds (a stopped or hung process ignores SIGTERM)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.is_alive(run):
                return
            try:
                os.killpg(run.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            deadline = time.time() + grace
            while time.time() < deadline and self.is_alive(run):
                time.sleep(0.05)

    def is_alive(self, run: RunRecord) -> bool | None:
        """The run's worker still runs: its pid, started when it was recorded (a reused pid is another process;
        a worker forked warm has the warm process's command line, so that cannot tell)."""
        if not run.pid or run.host != os.uname().nodename:
            return None
        if run.pid_start:
            return started_at(run.pid) == run.pid_start and process_exists(run.pid)
        try:
            cmdline = Path(f"/proc/{run.pid}/cmdline").read_bytes()
        except OSError:
            return False
        return run.id.encode() in cmdline and process_exists(run.pid)  # a zombie has ended


WORKER = "nocode_widgets.training.worker"


RUNNER: Runner = LocalProcessRunner()


def reconcile(ws: Workspace, run: RunRecord, runner: Runner | None = None) -> RunRecord:
    """Mark an active run whose worker is gone as interrupted; a worker silent too long is terminated
    first, so its slot is free. Moving the queue on is the caller's (`runs_checked` in `jobs` does)."""
    if run.waiting:
        return run
    runner = runner or RUNNER
    alive = runner.is_alive(run)
    beat = read_progress(run_folder(ws, run)).get("heartbeat") or run.launched or run.started or run.created
    silent = time.time() - beat > ws.settings.heartbeat_timeout_s
    if alive is False or silent:
        if alive:
            runner.stop(run)
        transition(ws, run.id, ACTIVE, status="interrupted", error=INTERRUPTED, finished=time.time())
        return load_run(ws, run.id)
    return run
