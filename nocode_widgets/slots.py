"""Machine-wide slots for the helper processes that pages start (heat maps, time estimates, label checks,
inbox and submission scoring): each loads torch or a model, so together they are capped at
`max_helper_processes`, whoever asks. A slot is a file lock under the data folder, held while the helper runs;
a process that dies frees its slot with it. No free slot: a plain "busy, try again in a moment", never a queue
that grows. `run_job` runs a helper job in the slot held: a new Python, or with the warm start the slot's warm
helper (`warm_pool.py`)."""

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
from .warm_pool import ask, do_job, fits
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
def helper_slot(ws: Workspace, user_id: str, what: str = "heat maps, estimates and label checks") -> Iterator[int]:
    """Hold one of the machine's helper slots while the block runs (it gets the slot's number), at most one per
    person (so one person's tabs cannot take them all): HelpersBusy when that person's is taken or none is free."""
    folder = ws.settings.data_dir / "slots"
    folder.mkdir(parents=True, exist_ok=True)
    mine = free_lock([FileLock(str(folder / f"helper-of-{user_id}.lock"))])
    if mine is None:
        raise HelpersBusy(YOURS.format(what=what))
    try:
        locks = [FileLock(str(folder / f"helper-{k}.lock")) for k in range(ws.settings.max_helper_processes)]
        lock = free_lock(locks)
        if lock is None:
            raise HelpersBusy(BUSY.format(what=what))
        try:
            yield locks.index(lock)
        finally:
            lock.release()
    finally:
        mine.release()


def run_job(ws: Workspace, slot: int, module: str, job: dict, progress: Callable[[dict], None], timeout_s: float,
            too_long: str, failed: str) -> dict:
    """Run helper `module` on `job` and return what its `work(job)` returned, passing on the progress it reports
    ({"done", "total", ...}) as it goes. Call it holding helper slot `slot`. With `warm_start` the slot's warm
    helper runs it (`warm_pool`); otherwise a new `python -m <module> JOB.json`. The job is a JSON file in a temp
    folder under the data folder (it gets its "out" and "progress" paths there, and the picture limits); the
    folder goes with everything in it. Stopped after `timeout_s` (NocodeError `too_long`); a failure is
    NocodeError `failed`, followed by the helper's own plain words when it has some."""
    tmp_root = ws.settings.data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        job = {**job, "out": str(Path(tmp) / "out.json"), "progress": str(Path(tmp) / "progress.json"),
               "max_side": ws.settings.image_max_side, "max_pixels": ws.settings.max_image_pixels}
        job_file = Path(tmp) / "job.json"
        write_json_atomic(job_file, job)

        def poll() -> None:
            state = read_json(Path(job["progress"])) or {}
            if state:
                progress(state)

        if ws.settings.warm_start and fits(ws.settings):
            ask(ws.settings, slot, module, job_file, poll, timeout_s, too_long, failed)
        else:
            _run_cold(ws, module, job_file, poll, timeout_s, too_long, failed)
        result = read_json(Path(job["out"]))
    if result is None:
        raise NocodeError(f"{failed}.")
    return result


def _run_cold(ws: Workspace, module: str, job_file: Path, poll: Callable[[], None], timeout_s: float, too_long: str,
              failed: str) -> None:
    env = {**os.environ, **ws.settings.to_env()}
    proc = subprocess.Popen([sys.executable, "-m", module, str(job_file)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + timeout_s
    while proc.poll() is None:
        poll()
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            raise NocodeError(too_long)
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        said = next((json.loads(line).get("error") for line in stdout.splitlines() if line.startswith("{")), None)
        sys.stderr.write(stderr[-4000:])
        raise NocodeError(f"{failed}{': ' + said if said else ''}.")


def helper_main(argv: list[str], work: Callable[[dict], dict]) -> int:
    """The entry point of a helper run cold (`python -m <module> JOB.json`): `do_job`, its failure printed as
    {"error": ...} for `run_job`."""
    error = do_job(Path(argv[0]), work)
    if error is not None:
        print(json.dumps({"error": error}))
        return 1
    return 0
