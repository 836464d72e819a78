"""Predict with an exported model: the picture preparation of the app, in numpy + Pillow only, and a
command line around onnxruntime. This file is the single definition the app itself uses (stored
pictures, training caches, predictions) and it is copied as `predict.py` into every model bundle, so
a bundle prepares pictures exactly as the app does.

    python predict.py a.jpg b.png [--json]      # model.json and model.onnx beside this file
                                                # (an ensemble: model.json and members/<n>/ beside it)

Probabilities are calibrated with the run's temperature, and an answer below the run's "sure"
threshold, or for a picture unlike the training pictures, is printed as "not sure" (model.json).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF")  # nothing else is decoded (no Ghostscript for EPS)
JPEG_QUALITY = 90  # pictures are stored (and so seen in training) as JPEG at this quality


def to_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """Upright (EXIF), RGB (transparency on white, 16-bit grey stretched), longer side at most `max_side`."""
    if image.format == "JPEG":
        image.draft("RGB", (max_side, max_side))  # decode at a reduced scale when that is enough
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image)
    image = as_rgb(image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def as_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return stretch_to_8bit(image).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def stretch_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit or float grey: map its actual range onto 0-255 instead of clipping to white."""
    a = np.asarray(image, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(scaled.round().astype(np.uint8), "L")


def stored_jpeg(raw: bytes, max_side: int) -> bytes:
    """The picture as the app stores it: RGB, at most `max_side`, JPEG at JPEG_QUALITY."""
    out = io.BytesIO()
    to_rgb(Image.open(io.BytesIO(raw), formats=FORMATS), max_side).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def fit_array(image: Image.Image, size: int) -> np.ndarray:
    """[3, size, size] uint8: shorter side resized to `size` (bilinear), centre crop."""
    fitted = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR, centering=(0.5, 0.5))
    return np.ascontiguousarray(np.asarray(fitted, dtype=np.uint8).transpose(2, 0, 1))


def normalize(batch_uint8: np.ndarray, mean, std) -> np.ndarray:
    """uint8 [N,3,H,W] -> float32 (x / 255 - mean) / std, the model's input."""
    m = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return (batch_uint8.astype(np.float32) / np.float32(255.0) - m) / s


def prepare(raw: bytes, card: dict) -> np.ndarray:
    """A picture file's bytes -> the model's uint8 input [3, S, S], as in the app."""
    image = Image.open(io.BytesIO(stored_jpeg(raw, max(card.get("max_side", 512), card["image_size"]))))
    return fit_array(image.convert("RGB"), card["image_size"])


def with_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities: softmax(log p / T), row by row (T fitted on the run's validation pictures;
    the same as softmax(logits / T), and it never changes which class wins)."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0 or probs.size == 0:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def is_sure(probs: np.ndarray, threshold: float) -> bool:
    """Whether the top calibrated probability reaches the run's "sure" threshold (model.json)."""
    return float(np.max(probs)) >= threshold


def picture_stats(batch_uint8: np.ndarray) -> np.ndarray:
    """[N, 9]: per colour channel the mean, the spread and the mean step to the next pixel (texture) of the
    model's input pictures: cheap numbers in which plain noise and blank pages stand far from photos."""
    x = batch_uint8.astype(np.float32) / 255.0
    steps = (np.abs(np.diff(x, axis=2)).mean(axis=(2, 3)) + np.abs(np.diff(x, axis=3)).mean(axis=(2, 3))) / 2
    return np.concatenate([x.mean(axis=(2, 3)), x.std(axis=(2, 3)), steps], axis=1)


def unusual(batch_uint8: np.ndarray, card: dict) -> np.ndarray:
    """[N] bool: the picture is unlike the training pictures (model.json's `typical`: the training pictures'
    mean and inverse covariance of `picture_stats`, and the distance beyond which held-back pictures
    almost never lie). False for every picture when the model has no such record."""
    typical = card.get("typical")
    if not typical:
        return np.zeros(len(batch_uint8), dtype=bool)
    d = picture_stats(batch_uint8) - np.asarray(typical["mean"])
    distance = np.sqrt(np.einsum("ni,ij,nj->n", d, np.asarray(typical["inverse_cov"]), d))
    return distance > typical["limit"]


def open_model(folder: Path):
    """(model.json, answer) for a model folder: `answer(file bytes) -> (calibrated probabilities [C], unusual)`.
    An ensemble's folder (model.json kind "ensemble") holds its members in sub-folders: their calibrated
    probabilities are averaged with the members' weights, then calibrated with the ensemble's temperature."""
    import onnxruntime as ort

    card = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    if card.get("kind") == "ensemble":
        members = [(open_model(folder / m["folder"])[1], float(m["weight"])) for m in card["members"]]

        def vote(raw: bytes):
            answers = [(answer(raw), weight) for answer, weight in members]
            probs = sum(weight * probs for (probs, _), weight in answers)
            return with_temperature(probs[None], card.get("temperature", 1.0))[0], answers[0][0][1]
        return card, vote
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])

    def answer(raw: bytes):
        pixels = prepare(raw, card)[None]
        probs = session.run(None, {session.get_inputs()[0].name: normalize(pixels, card["mean"], card["std"])})[0]
        return with_temperature(probs, card.get("temperature", 1.0))[0], bool(unusual(pixels, card)[0])
    return card, answer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Classify pictures with the exported model beside this file.")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--model", default=str(Path(__file__).resolve().parent), help="folder with model.onnx and model.json")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    card, answer = open_model(Path(args.model))
    rows = []
    for path in args.images:
        try:
            probs, odd = answer(Path(path).read_bytes())
        except Exception as exc:  # noqa: BLE001 - one unreadable file does not stop the others
            rows.append({"file": path, "error": f"could not be read ({type(exc).__name__})"})
            continue
        label = card["classes"][int(probs.argmax())]
        rows.append({"file": path, "label": label, "sure": is_sure(probs, card.get("sure_threshold", 0.0)) and not odd,
                     "unusual": odd, "probabilities": {c: float(p) for c, p in zip(card["classes"], probs)}})
    if args.json:
        print(json.dumps(rows, indent=2))
    for row in rows if not args.json else ():
        if "error" in row:
            print(f"{row['file']}: {row['error']}")
        else:
            top = sorted(row["probabilities"].items(), key=lambda kv: -kv[1])[:3]
            answer_ = row["label"] if row["sure"] else f"not sure (most like {row['label']})"
            print(f"{row['file']}: {answer_} (" + ", ".join(f"{c} {p:.0%}" for c, p in top) + ")")
    return 0 if all("label" in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
