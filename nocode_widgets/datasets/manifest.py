"""The per-dataset manifest: one JSON line per stored image, next to the images. Rewritten whole
and atomically (temp file + fsync + replace) so a crash leaves the old or the new list."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import write_atomic

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class ImageEntry:
    file: str  # relative to the dataset folder: images/<hash>.jpg
    label: str
    hash: str
    original: str
    width: int
    height: int
    bytes: int
    added: float


def read_manifest(folder: Path) -> list[ImageEntry]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [ImageEntry(**json.loads(line)) for line in f if line.strip()]


def write_manifest(folder: Path, entries: list[ImageEntry]) -> None:
    write_atomic(folder / MANIFEST, "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in entries).encode())
