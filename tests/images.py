"""Small real pictures and archives made on the spot (tests never download anything)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image

COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 20)}


def picture(color=(200, 50, 50), size=(32, 24), fmt="JPEG", mode="RGB", seed=0, **save) -> bytes:
    """A noisy picture of one dominant color (each seed gives different bytes)."""
    rng = np.random.default_rng(seed)
    base = np.array(color, dtype=np.int16)
    noise = rng.integers(-25, 26, size=(size[1], size[0], 3))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def png_bomb(width=40000, height=40000) -> bytes:
    """A tiny PNG whose header declares a huge picture (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_zip(files: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def class_files(classes=("red", "blue"), per_class=4, prefix="", size=(32, 24)) -> dict:
    """{'red/0.jpg': ..., 'blue/0.jpg': ...}: distinct pictures per class."""
    files = {}
    for k, name in enumerate(classes):
        for i in range(per_class):
            files[f"{prefix}{name}/{i}.jpg"] = picture(COLORS.get(name, (128, 128, 128)), size=size, seed=k * 1000 + i)
    return files
