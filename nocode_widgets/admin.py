"""What the admin panel shows: every user with their datasets, runs and disk use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .auth import User, list_users, require_admin
from .store import Table
from .workspace import Workspace


@dataclass(frozen=True)
class UserUsage:
    user: User
    datasets: int
    runs: int
    bytes: int


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def usage(ws: Workspace, actor: User) -> list[UserUsage]:
    require_admin(ws, actor)
    datasets, runs = ws.store.find(Table.DATASETS), ws.store.find(Table.RUNS)
    return [UserUsage(u, sum(d["owner"] == u.id for d in datasets), sum(r["owner"] == u.id for r in runs),
                      folder_bytes(ws.settings.user_dir(u.id))) for u in list_users(ws)]
