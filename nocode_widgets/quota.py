"""Per-user limits: bytes on disk (pictures, prepared caches and runs: everything under the user's
folder) and the number of datasets. Checked before anything is written, with the numbers in the
message; the ingest also counts what it writes, so an estimate that was too low still stops in time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .auth import User, current_user
from .errors import NocodeError
from .workspace import Workspace


class QuotaError(NocodeError):
    """A user's space or dataset allowance is used up."""


def human_bytes(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def folder_bytes(path: Path) -> int:
    total = 0
    for p in Path(path).rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:  # removed while we walk
            continue
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
    return usage(ws, current_user(ws, user).id)


def check_room(ws: Workspace, user_id: str, incoming: int) -> Usage:
    """Refuse `incoming` more bytes if they would pass the user's limit."""
    u = usage(ws, user_id)
    if incoming > u.left:
        raise QuotaError(f"That needs about {human_bytes(incoming)}, but only {human_bytes(u.left)} of your "
                         f"{human_bytes(u.limit)} is left ({u.text()}). Delete runs or datasets you no longer "
                         "need, or ask an administrator.")
    return u


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
