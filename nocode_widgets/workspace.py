"""A workspace is one data root: its settings and its store. Every core function takes one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .store import Store


@dataclass(frozen=True)
class Workspace:
    settings: Settings
    store: Store

    @classmethod
    def open(cls, data_dir: str | Path | None = None, settings: Settings | None = None) -> "Workspace":
        """Open (creating if needed) the workspace at `data_dir`, or the one the environment names.
        Sets this process's umask to 0o077: every file it writes from then on is its owner's only."""
        if settings is None:
            settings = Settings.from_env(data_dir=data_dir)
        elif data_dir is not None:
            settings = settings.with_changes(data_dir=Path(data_dir).resolve())
        os.umask(0o077)  # data files 0600, folders 0700: pictures and models are private
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(settings=settings, store=Store(settings.db_path, settings.store_lock_timeout_s))
