"""One picture in, one normalized RGB JPEG out, or a plain reason why not.

Every image is decoded fully (not just `verify`), turned upright by its EXIF orientation, converted
from any mode (CMYK, RGBA, 16-bit grey, palette, an animated GIF's first frame) to RGB and shrunk so
its longer side is at most `max_side`. The pixel count is checked from the header before decoding,
so a decompression bomb is refused without allocating it.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

from ..pictures.formats import open_picture
from ..pictures.portable import JPEG_QUALITY, to_rgb

ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageRejected(Exception):
    """The file is not a usable picture; the message says why in plain words."""


@dataclass(frozen=True)
class NormalizedImage:
    data: bytes  # JPEG
    hash: str  # sha256 of the original bytes: what "the same picture" means
    width: int  # of the original
    height: int
    format: str


def normalize_image(raw: bytes, max_side: int, max_pixels: int) -> NormalizedImage:
    if not raw:
        raise ImageRejected("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = open_picture(io.BytesIO(raw))
    except Image.DecompressionBombError:  # PIL's own check, at twice its default limit
        raise ImageRejected(f"the picture is too large (the limit is {max_pixels:,} pixels)") from None
    except UnidentifiedImageError:
        raise ImageRejected("not a picture this app can read (JPEG, PNG, GIF, BMP, WebP, TIFF)") from None
    except Exception:
        raise ImageRejected("the file is damaged") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(f"the picture is too large ({width}x{height} pixels; the limit is {max_pixels:,} pixels)")
    if width < 1 or height < 1:
        raise ImageRejected("the picture has no pixels")
    fmt = image.format or "?"
    try:
        rgb = to_rgb(image, max_side)
    except Exception:
        raise ImageRejected("the file is damaged or cut short") from None
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY)
    return NormalizedImage(out.getvalue(), hashlib.sha256(raw).hexdigest(), width, height, fmt)
