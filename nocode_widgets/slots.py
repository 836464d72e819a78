"""Machine-wide slots for the helper processes that pages start (heat maps, time estimates, label checks):
each loads torch and a model, so together they are capped at `max_helper_processes`, whoever asks.
A slot is a file lock under the data folder, held while the helper runs; a process that dies frees its
slot with it. No free slot: a plain "busy, try again in a moment", never a queue that grows."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from filelock import FileLock, Timeout

from .errors import NocodeError
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
