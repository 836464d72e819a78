"""A generated dataset for the training benchmarks: 3 classes of shapes (circle, square, triangle)
of random colour, size and position on a noisy background, so a model must learn shape, not colour."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def shape_picture(kind: str, rng: np.random.Generator, size: int = 96) -> bytes:
    background = rng.integers(0, 256, 3)
    noise = rng.normal(0, 18, (size, size, 3))
    img = Image.fromarray(np.clip(background + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    r = int(rng.integers(size // 6, size // 3))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    colour = tuple(int(v) for v in (255 - background + rng.integers(-40, 40, 3)) % 256)
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif kind == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def shapes_zip(per_class: int, size: int = 96, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for kind in SHAPES:
            for i in range(per_class):
                z.writestr(f"{kind}/{i}.jpg", shape_picture(kind, rng, size))
    return out.getvalue()


def digits_zip(size: int = 32) -> bytes:
    """scikit-learn's 1,797 scans of handwritten digits (8x8, 17 grey levels), shown at `size` px as PNGs in
    class folders 0-9. Needs scikit-learn in the benchmark's environment (not a dependency of the app)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for i, (pixels, label) in enumerate(zip(digits.images, digits.target)):
            grey = Image.fromarray((pixels * (255 / 16)).astype(np.uint8)).resize((size, size), Image.BILINEAR)
            picture = io.BytesIO()
            grey.convert("RGB").save(picture, "PNG")
            z.writestr(f"{label}/{i}.png", picture.getvalue())
    return out.getvalue()


# Real photographs (scikit-image's bundled samples; scikit-image in the benchmark's environment only) ---------

TEXTURES = ("brick", "grass", "gravel")


def _zip_of(pictures) -> bytes:
    """A zip of (folder, name, PIL image) as JPEGs in class folders."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for folder, name, img in pictures:
            data = io.BytesIO()
            img.save(data, "JPEG", quality=92)
            z.writestr(f"{folder}/{name}.jpg", data.getvalue())
    return out.getvalue()


def textures_zip(counts=(120, 120, 120), size: int = 96, seed: int = 0) -> bytes:
    """Patches of three real texture photographs (brick wall, grass, gravel; 512 px greyscale): each picture
    a random square of 64-192 px of its photograph, shown at `size` px, so no two pictures are the same."""
    from skimage import data

    rng = np.random.default_rng(seed)

    def patches(kind: str, n: int):
        photo = Image.fromarray(getattr(data, kind)()).convert("RGB")
        for i in range(n):
            side = int(rng.integers(64, 193))
            x, y = (int(v) for v in rng.integers(0, photo.width - side, 2))
            yield kind, str(i), photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)

    return _zip_of(p for kind, n in zip(TEXTURES, counts) for p in patches(kind, n))


def faces_zip(per_class: int = 90, size: int = 64) -> bytes:
    """scikit-image's subset of Labeled Faces in the Wild: 25 px greyscale photographs of faces and of
    other things (100 each), shown at `size` px in folders face/ and not-face/."""
    from skimage import data

    photos = data.lfw_subset()  # the first 100 are faces
    pictures = []
    for label, rows in (("face", photos[:per_class]), ("not-face", photos[100:100 + per_class])):
        for i, pixels in enumerate(rows):
            grey = Image.fromarray((pixels * 255).clip(0, 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
            pictures.append((label, str(i), grey.convert("RGB")))
    return _zip_of(pictures)


PHOTOS = ("camera", "astronaut", "chelsea", "coffee", "rocket")


def photo_patches_zip(per_class: int = 90, size: int = 64, seed: int = 0) -> bytes:
    """The harder set: which of five real photographs (scikit-image's camera man, astronaut, cat, coffee cup
    and rocket, all in grey) a random square of 32-96 px comes from, shown at `size` px. A patch of sky, wall
    or shadow can come from several of them, so no network separates them all, and not in a few epochs."""
    from skimage import data

    rng = np.random.default_rng(seed)
    pictures = []
    for kind in PHOTOS:
        photo = Image.fromarray(getattr(data, kind)()).convert("L").convert("RGB")
        for i in range(per_class):
            side = int(rng.integers(32, 97))
            x, y = int(rng.integers(0, photo.width - side)), int(rng.integers(0, photo.height - side))
            pictures.append((kind, str(i), photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)))
    return _zip_of(pictures)
