"""Uploaded files: in memory (the value of an `ipywidgets.FileUpload`, read in either shape without
importing ipywidgets: 8.x gives a tuple of dicts, 7.x a dict name -> {metadata, content}) or streamed
to a temp file by the page's chunked uploader (`path`), read only when ingested."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UploadedFile:
    name: str
    content: bytes | None = None
    path: Path | None = None

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else Path(self.path).stat().st_size

    def read(self) -> bytes:
        return self.content if self.content is not None else Path(self.path).read_bytes()


def read_upload(value) -> list[UploadedFile]:
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7.x
        items = [(meta.get("metadata", {}).get("name", name), meta["content"]) for name, meta in value.items()]
    else:  # ipywidgets 8.x: tuple (or list) of dicts
        items = [(f["name"], f["content"]) for f in value]
    return [UploadedFile(str(name), bytes(content)) for name, content in items]
