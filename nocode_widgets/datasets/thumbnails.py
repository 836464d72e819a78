"""Small JPEG previews of stored pictures for the panels."""

from __future__ import annotations

import io
from pathlib import Path

from ..pictures.formats import open_picture
from .images import ImageRejected, normalize_image


def thumbnail_bytes(path: Path, size: int = 96) -> bytes:
    with open_picture(path) as image:
        image.draft("RGB", (size, size))
        image = image.convert("RGB")
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


def thumbnail_of_upload(raw: bytes, size: int = 96, max_pixels: int = 50_000_000) -> bytes | None:
    """A preview of an uploaded picture, or None if it is not a safe, readable picture."""
    try:
        return thumbnail_bytes(io.BytesIO(normalize_image(raw, size * 2, max_pixels).data), size)
    except ImageRejected:
        return None
