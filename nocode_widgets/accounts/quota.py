"""Per-user limits: bytes on disk (pictures, prepared caches, runs, heat maps and uploads still
arriving: everything under the user's folder) and the number of datasets.

Space is taken through *reservations*: before a process writes, it reserves the bytes under the
person's own lock, against what is on disk plus what every other live reservation still holds, so two
tabs (or a tab and a training run) together can never pass the limit. A reservation belongs to a process
and lapses when that process is gone, so a crash frees it; it is released when the writing is done
(what was written is then on disk and counted there)."""

from __future__ import annotations

import os
import secrets
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import logging

from filelock import FileLock, Timeout

from .auth import User, current_user
from ..errors import NocodeError, StoreBusy
from ..files import process_exists, read_json, write_json_atomic
from ..workspace import Workspace

log = logging.getLogger(__name__)
LEDGERS = "space"  # under the data folder: <user id>.json, the live reservations of that person
RESERVATION_MAX_AGE_S = 24 * 3600.0  # a reservation older than this has lapsed, whoever holds it


class QuotaError(NocodeError):
    """A user's space or dataset allowance is used up."""


def human_bytes(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def folder_bytes(path: Path) -> int:
    """The bytes of the files under `path`, each file once however many names it has: a class's shared copy
    of a dataset is hard links to the pictures, so the pictures count once."""
    total, seen = 0, set()
    for p in Path(path).rglob("*"):
        try:
            st = p.lstat()
        except OSError:  # removed while we walk
            continue
        if stat.S_ISREG(st.st_mode) and (st.st_nlink == 1 or (st.st_dev, st.st_ino) not in seen):
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def text(self) -> str:
        return f"{human_bytes(self.used)} of {human_bytes(self.limit)} used"


def usage(ws: Workspace, user_id: str) -> Usage:
    return Usage(folder_bytes(ws.settings.user_dir(user_id)), ws.settings.max_bytes_per_user)


def my_usage(ws: Workspace, user: User) -> Usage:
    """What the person sees as used: on disk, and reserved by work under way (uploads arriving, a run's cache)."""
    return check_room(ws, current_user(ws, user).id, 0)


def check_room(ws: Workspace, user_id: str, incoming: int, credit: int = 0) -> Usage:
    """Refuse `incoming` more bytes if they would pass the user's limit (what is reserved counts as used;
    `credit`: bytes on disk that go once these are written, like an upload's temp files)."""
    with _ledger(ws, user_id) as ledger:
        used = max(0, folder_bytes(ws.settings.user_dir(user_id)) - credit) + ledger.outstanding()
        u = Usage(used, ws.settings.max_bytes_per_user)
    if incoming > u.left:
        raise _no_room(incoming, u)
    return u


def _no_room(incoming: int, u: Usage) -> QuotaError:
    return QuotaError(f"That needs about {human_bytes(incoming)}, but only {human_bytes(u.left)} of your "
                      f"{human_bytes(u.limit)} is left ({u.text()}). Delete runs or datasets you no longer "
                      "need, or ask an administrator.")


class _Ledger:
    """The live reservations of one person, read and written under their lock."""

    def __init__(self, path: Path):
        self.path = path
        now = time.time()
        self.entries = {rid: e for rid, e in (read_json(path) or {}).items()
                        if process_exists(e["pid"]) and now - e["at"] < RESERVATION_MAX_AGE_S}

    def outstanding(self, but: str | None = None) -> int:
        """Bytes reserved and not yet written (by the reservations' last account of themselves)."""
        return sum(max(0, e["bytes"] - e["written"]) for rid, e in self.entries.items() if rid != but)

    def save(self) -> None:
        if self.entries:
            write_json_atomic(self.path, self.entries)
        else:
            self.path.unlink(missing_ok=True)


@contextmanager
def _ledger(ws: Workspace, user_id: str) -> Iterator[_Ledger]:
    """Kept beside the users' folders, not in them: a deleted account's folder never comes back."""
    folder = ws.settings.data_dir / LEDGERS
    folder.mkdir(mode=0o700, exist_ok=True)
    try:
        with FileLock(str(folder / f"{user_id}.lock"), timeout=ws.settings.store_lock_timeout_s):
            yield _Ledger(folder / f"{user_id}.json")
    except Timeout:
        raise StoreBusy("The server is busy right now. Please try again in a moment.") from None


class Reservation:
    """Bytes a process may write into a person's space. `claim(total, written)` makes sure `total` bytes
    are reserved in all (`written` of them already on disk), taking `extra` more when there is room, so
    a writer claims now and then rather than per file. `credit`: bytes on disk that go away when this
    writing is done (an upload's temp files being imported), which it may use."""

    def __init__(self, ws: Workspace, user_id: str, credit: int = 0):
        self.ws, self.user_id, self.credit = ws, user_id, credit
        self.id = secrets.token_hex(8)
        self.bytes = 0
        self.room = 0  # what was left at the last claim

    def claim(self, total: int, written: int = 0, extra: int = 0) -> None:
        if total <= self.bytes:
            return
        limit = self.ws.settings.max_bytes_per_user
        with _ledger(self.ws, self.user_id) as ledger:
            used = folder_bytes(self.ws.settings.user_dir(self.user_id)) - written - self.credit
            room = self.room = max(0, limit - max(0, used) - ledger.outstanding(but=self.id))
            if total > room:
                raise _no_room(total, Usage(limit - room, limit))
            self.bytes = min(room, total + (max(extra, total) if extra else 0))  # ahead: doubles, few walks
            ledger.entries[self.id] = {"bytes": self.bytes, "written": written, "pid": os.getpid(), "at": time.time()}
            ledger.save()

    def release(self) -> None:
        """Best effort: a reservation that cannot be struck out now lapses with its process anyway."""
        if not self.bytes:
            return
        try:
            with _ledger(self.ws, self.user_id) as ledger:
                if ledger.entries.pop(self.id, None) is not None:
                    ledger.save()
        except (NocodeError, OSError):
            log.warning("a space reservation of %s was left to lapse", self.user_id, exc_info=True)
        self.bytes = 0


@contextmanager
def reserved(ws: Workspace, user_id: str, nbytes: int = 0, credit: int = 0) -> Iterator[Reservation]:
    """A reservation of `nbytes` (more can be claimed), released when the block ends, however it ends."""
    reservation = Reservation(ws, user_id, credit)
    try:
        reservation.claim(nbytes)
        yield reservation
    finally:
        reservation.release()


def check_space(ws: Workspace, user: User) -> None:
    """Training writes a cache and a model: refuse when the user's space is already full."""
    u = my_usage(ws, user)
    if u.left <= 0:
        raise QuotaError(f"Your space is full ({u.text()}). Delete runs or datasets you no longer need to train "
                         "again.")


def check_dataset_count(ws: Workspace, count: int) -> None:
    limit = ws.settings.max_datasets_per_user
    if count >= limit:
        raise QuotaError(f"You have {count} datasets, the most one person may have is {limit}. Delete one first.")
