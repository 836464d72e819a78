"""Read the value of an `ipywidgets.FileUpload` in either shape without importing ipywidgets:
8.x gives a tuple of dicts (`name`, `content` as memoryview, ...); 7.x (still on Colab) gives a dict
name -> {`metadata`: {...}, `content`: bytes}."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UploadedFile:
    name: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


def read_upload(value) -> list[UploadedFile]:
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7.x
        items = [(meta.get("metadata", {}).get("name", name), meta["content"]) for name, meta in value.items()]
    else:  # ipywidgets 8.x: tuple (or list) of dicts
        items = [(f["name"], f["content"]) for f in value]
    return [UploadedFile(str(name), bytes(content)) for name, content in items]
