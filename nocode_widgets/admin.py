"""What the admin panel shows: every user with their datasets, runs and disk use."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import User, is_locked, list_users, require_admin
from .quota import folder_bytes
from .store import Table
from .workspace import Workspace


@dataclass(frozen=True)
class UserUsage:
    user: User
    datasets: int
    runs: int
    bytes: int
    limit: int
    locked: bool


def usage(ws: Workspace, actor: User) -> list[UserUsage]:
    require_admin(ws, actor)
    datasets, runs = ws.store.find(Table.DATASETS), ws.store.find(Table.RUNS)
    return [UserUsage(u, sum(d["owner"] == u.id for d in datasets), sum(r["owner"] == u.id for r in runs),
                      folder_bytes(ws.settings.user_dir(u.id)), ws.settings.max_bytes_per_user, is_locked(ws, u.id))
            for u in list_users(ws)]
