"""Machine-wide slots for the helper processes that pages start (heat maps, time estimates, label checks):
each loads torch and a model, so together they are capped at `max_helper_processes`, whoever asks.
A slot is a file lock under the data folder, held while the helper runs; a process that dies frees its
slot with it. No free slot: a plain "busy, try again in a moment", never a queue that grows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from .errors import NocodeError
from .files import read_json, write_json_atomic
from .workspace import Workspace

BUSY = "The server is busy with {what} right now. Please try again in a moment."
YOURS = "One of yours ({what}) is still running. Please wait for it to finish, then try again."


class HelpersBusy(NocodeError):
    """Every helper slot of the machine is taken."""


def free_lock(locks: list[FileLock]) -> FileLock | None:
    """The first of `locks` taken at once (now held), or None."""
    for lock in locks:
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            continue
    return None


@contextmanager
def helper_slot(ws: Workspace, user_id: str, what: str = "heat maps, estimates and label checks") -> Iterator[None]:
    """Hold one of the machine's helper slots while the block runs, at most one per person (so one person's
    tabs cannot take them all): HelpersBusy when that person's is taken or none is free."""
    folder = ws.settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    mine = free_lock([FileLock(str(folder / f"helper-of-{user_id}.lock"))])
    if mine is None:
        raise HelpersBusy(YOURS.format(what=what))
    try:
        lock = free_lock([FileLock(str(folder / f"helper-{k}.lock")) for k in range(ws.settings.max_helper_processes)])
        if lock is None:
            raise HelpersBusy(BUSY.format(what=what))
        try:
            yield
        finally:
            lock.release()
    finally:
        mine.release()


def run_helper(ws: Workspace, module: str, args: list[str], progress_file: Path, progress: Callable[[dict], None],
               timeout_s: float, too_long: str, failed: str, poll_s: float = 0.5) -> None:
    """Run `python -m <module> <args...>` (the workspace's settings in its environment) to its end, passing on
    what it writes to `progress_file` as it goes. Stopped after `timeout_s` (NocodeError `too_long`); a
    failure is NocodeError `failed`, followed by the helper's own plain words when it printed
    {"error": ...} on its last line. Call it inside a `helper_slot`."""
    env = {**os.environ, **ws.settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout_s
    while proc.poll() is None:
        state = read_json(progress_file) or {}
        if state:
            progress(state)
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            raise NocodeError(too_long)
        time.sleep(poll_s)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        said = next((json.loads(line).get("error") for line in stdout.splitlines() if line.startswith("{")), None)
        sys.stderr.write(stderr[-4000:])
        raise NocodeError(f"{failed}{': ' + said if said else ''}.")


def run_job(ws: Workspace, module: str, job: dict, progress: Callable[[int, int], None], timeout_s: float,
            too_long: str, failed: str) -> dict:
    """Run helper `module` on `job` (a JSON file in a temp folder under the data folder; the job gets its "out"
    and "progress" paths there) and return what it wrote to "out". The temp folder goes with everything in it.
    `progress(done, total)` as the helper reports it. Call it inside a `helper_slot`."""
    tmp_root = ws.settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        job = {**job, "out": str(Path(tmp) / "out.json"), "progress": str(Path(tmp) / "progress.json"),
               "max_side": ws.settings.image_max_side, "max_pixels": ws.settings.max_image_pixels}
        write_json_atomic(Path(tmp) / "job.json", job)
        run_helper(ws, module, [str(Path(tmp) / "job.json")], Path(job["progress"]),
                   lambda state: progress(state["done"], state["total"]), timeout_s, too_long, failed)
        result = read_json(Path(job["out"]))
    if result is None:
        raise NocodeError(f"{failed}.")
    return result


def helper_main(argv: list[str], work: Callable[[dict], dict]) -> int:
    """The entry point of a helper that `run_job` starts: read the job, write what `work(job)` returns to its
    "out". A failure prints {"error": ...} (our own errors in their plain words) for the page, then goes on to
    stderr with its traceback."""
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        write_json_atomic(Path(job["out"]), work(job))
    except Exception as exc:  # noqa: BLE001 - said to the page in one line; the details go to stderr
        print(json.dumps({"error": str(exc) if isinstance(exc, NocodeError) else type(exc).__name__}))
        raise
    return 0
