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

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..picture_formats import open_picture

ImageFile.LOAD_TRUNCATED_IMAGES = False
JPEG_QUALITY = 90


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
        rgb = _to_rgb(image, max_side)
    except Exception:
        raise ImageRejected("the file is damaged or cut short") from None
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY)
    return NormalizedImage(out.getvalue(), hashlib.sha256(raw).hexdigest(), width, height, fmt)


def _to_rgb(image: Image.Image, max_side: int) -> Image.Image:
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # decode at a reduced scale when that is enough
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image)
    image = _as_rgb(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def _as_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _stretch_to_8bit(image).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit or float grey: map its actual range onto 0-255 instead of clipping to white."""
    a = np.asarray(image, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(scaled.round().astype(np.uint8), "L")
