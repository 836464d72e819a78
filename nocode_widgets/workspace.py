"""A workspace is one data root: its settings and its store. Every core function takes one."""

from __future__ import annotations

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
        """Open (creating if needed) the workspace at `data_dir`, or the one the environment names."""
        if settings is None:
            settings = Settings.from_env(data_dir=data_dir)
        elif data_dir is not None:
            settings = settings.with_changes(data_dir=Path(data_dir).resolve())
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings=settings, store=Store(settings.db_path))
