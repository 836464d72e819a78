"""The picture formats the app decodes, and the one way to open a picture with PIL: only these
formats are tried, so an uploaded EPS or PDF never reaches Ghostscript (or any other external
decoder) on the server."""

from __future__ import annotations

from PIL import Image

from .portable import FORMATS


def open_picture(source) -> Image.Image:
    """`Image.open` limited to FORMATS (a path or a binary file object)."""
    return Image.open(source, formats=FORMATS)
