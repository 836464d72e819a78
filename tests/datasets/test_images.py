import io

import numpy as np
import pytest
from PIL import Image

from nocode_widgets.datasets.images import ImageRejected, normalize_image
from tests.images import picture, png_bomb


def norm(raw, max_side=512, max_pixels=50_000_000):
    return normalize_image(raw, max_side, max_pixels)


def decoded(result) -> Image.Image:
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


@pytest.mark.parametrize("mode,fmt", [("RGB", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"), ("P", "PNG"),
                                      ("L", "JPEG"), ("1", "BMP"), ("RGB", "WEBP"), ("RGB", "TIFF")])
def test_any_mode_becomes_an_rgb_jpeg(mode, fmt):
    img = decoded(norm(picture(mode=mode, fmt=fmt)))
    assert img.format == "JPEG" and img.mode == "RGB" and img.size == (32, 24)


def test_sixteen_bit_grey_is_stretched_not_clipped():
    arr = np.linspace(0, 4000, 32 * 24).reshape(24, 32).astype(np.uint16)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    pixels = np.asarray(decoded(norm(out.getvalue())))
    assert pixels.min() < 10 and pixels.max() > 245 and 90 < pixels.mean() < 165


def test_transparent_pixels_become_white():
    img = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    assert np.asarray(decoded(norm(out.getvalue()))).mean() > 250


def test_animated_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255)]]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    r, g, b = np.asarray(decoded(norm(out.getvalue()))).reshape(-1, 3).mean(0)
    assert r > 200 and b < 60


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    assert decoded(norm(out.getvalue())).size == (20, 40)


def test_large_picture_is_downscaled_keeping_its_shape():
    img = decoded(norm(picture(size=(1600, 900)), max_side=512))
    assert img.size == (512, 288)


def test_hash_identifies_the_original_bytes():
    a, b = picture(seed=1), picture(seed=2)
    assert norm(a).hash == norm(a).hash != norm(b).hash


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty"),
    (b"this is not an image at all", "not a picture"),
    (picture(size=(200, 200))[:400], "damaged"),
])
def test_bad_files_are_refused_with_a_reason(raw, reason):
    with pytest.raises(ImageRejected, match=reason):
        norm(raw)


def test_picture_over_our_pixel_limit_is_refused_with_its_size():
    with pytest.raises(ImageRejected, match="too large .3000x2000 pixels"):
        norm(png_bomb(3000, 2000), max_pixels=1_000_000)


def test_decompression_bomb_is_refused_before_decoding():
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ImageRejected, match="too large"):
        norm(png_bomb())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20
