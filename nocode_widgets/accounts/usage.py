"""What the admin panel shows: every user with their datasets, runs and disk use, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import User, is_locked, list_users, require_admin
from .quota import folder_bytes
from ..workspace import Workspace

PER_PAGE = 50  # users whose folders are measured at once: the disk walk is the cost, so it is paged


@dataclass(frozen=True)
class UserUsage:
    user: User
    datasets: int
    runs: int
    bytes: int
    limit: int
    locked: bool


@dataclass(frozen=True)
class UsagePage:
    rows: list[UserUsage]
    page: int  # from 0
    pages: int
    users: list[User]  # everyone, for choosing one (no disk is read for these)

    @property
    def first(self) -> int:
        return self.page * PER_PAGE + 1 if self.rows else 0


def usage(ws: Workspace, actor: User, page: int = 0) -> UsagePage:
    """One page of users (oldest account first) with their counts, from the store's summary of each person (no one's records
    are read), and their disk use, walked for this page's users only: the same cost with 10 people or 1,000."""
    require_admin(ws, actor)
    users = list_users(ws)
    pages = max(1, -(-len(users) // PER_PAGE))
    page = min(max(0, int(page)), pages - 1)
    counts = ws.store.owner_summaries()
    rows = [UserUsage(u, counts.get(u.id, {}).get("datasets", 0), counts.get(u.id, {}).get("runs", 0),
                      folder_bytes(ws.settings.user_dir(u.id)), ws.settings.max_bytes_per_user, is_locked(ws, u.id))
            for u in users[page * PER_PAGE:(page + 1) * PER_PAGE]]
    return UsagePage(rows, page, pages, users)
