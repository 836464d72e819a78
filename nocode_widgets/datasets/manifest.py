"""The per-dataset manifest: one JSON line per stored image, next to the images. Rewritten whole
and atomically (temp file + fsync + replace) so a crash leaves the old or the new list. The dataset's
inbox (unsorted pictures, `inbox.py`) is a second list of the same shape, with label "", beside it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import write_atomic

MANIFEST = "manifest.jsonl"
INBOX = "inbox.jsonl"  # the inbox's list; its pictures are under inbox/


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


def read_manifest(folder: Path, name: str = MANIFEST) -> list[ImageEntry]:
    path = folder / name
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [ImageEntry(**json.loads(line)) for line in f if line.strip()]


def leave_inbox(folder: Path, waiting: list[ImageEntry], gone: set[str]) -> list[ImageEntry]:
    """Take the pictures whose hashes are in `gone` out of the inbox (its list first, then their files: a crash
    in between leaves a file nothing lists, never a listed picture without its file); returns what still waits."""
    still = [e for e in waiting if e.hash not in gone]
    if len(still) < len(waiting):
        write_manifest(folder, still, INBOX)
        for e in waiting:
            if e.hash in gone:
                (folder / e.file).unlink(missing_ok=True)
    return still


def inbox_change(doc: dict, still: list[ImageEntry]) -> dict:
    """The dataset summary's fields after its inbox changed to `still`."""
    return {"inbox": len(still), "inbox_version": doc.get("inbox_version", 0) + 1}


def write_manifest(folder: Path, entries: list[ImageEntry], name: str = MANIFEST) -> None:
    write_atomic(folder / name, "".join(json.dumps(asdict(e), ensure_ascii=False) + "\n" for e in entries).encode())
