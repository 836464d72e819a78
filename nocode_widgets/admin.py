"""What the admin panel shows: every user with their datasets, runs and disk use."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import User, is_locked, list_users, require_admin
from .quota import folder_bytes
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
    """Counts from the store's summary of each person (no one's records are read); bytes from disk."""
    require_admin(ws, actor)
    counts = ws.store.owner_summaries()
    return [UserUsage(u, counts.get(u.id, {}).get("datasets", 0), counts.get(u.id, {}).get("runs", 0),
                      folder_bytes(ws.settings.user_dir(u.id)), ws.settings.max_bytes_per_user, is_locked(ws, u.id))
            for u in list_users(ws)]
