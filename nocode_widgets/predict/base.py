"""What every predictor shares, with no engine of its own: a `Prediction` of one picture, and `Predictor`,
which turns picture bytes into Predictions through a subclass's `probabilities`. Below the ONNX predictor
(`onnx`) and the PyTorch one (`pytorch`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.images import ImageRejected, normalize_image
from ..errors import NocodeError
from ..files import read_json
from ..pictures.portable import is_sure, unusual, with_temperature
from ..pictures.preprocess import load_rgb, to_uint8_array

NO_MODEL = "This run has no trained model to test (it may have stopped before its first epoch)."


@dataclass(frozen=True)
class Prediction:
    name: str
    label: str
    probabilities: dict  # class -> calibrated probability, in training order
    sure: bool = True  # the top probability reaches the "not sure" threshold, and the picture is not unusual
    unusual: bool = False  # unlike the training pictures (noise, a blank page...)

    @property
    def answer(self) -> str:
        """What to tell a person: the label, or "not sure" with the closest class (and why, when unusual)."""
        if self.sure:
            return self.label
        return f"not sure ({'unlike the training pictures; ' if self.unusual else ''}most like {self.label})"

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


class Predictor:
    """Turns picture bytes into Predictions; subclasses give `probabilities(uint8 batch) -> [N, C]`."""

    engine = ""

    def __init__(self, folder: Path, max_side: int = 512, max_pixels: int = 50_000_000):
        card = read_json(Path(folder) / "model.json")
        if card is None:
            raise NocodeError(NO_MODEL)
        self.folder, self.card, self.classes = Path(folder), card, list(card["classes"])
        self.max_side, self.max_pixels = max_side, max_pixels

    def prepare(self, raw: bytes) -> np.ndarray:
        """uint8 [3, S, S] of an uploaded picture (checked and decoded safely first), or ImageRejected."""
        safe = normalize_image(raw, max(self.max_side, self.card["image_size"]), self.max_pixels)
        return to_uint8_array(load_rgb(safe.data), self.card["image_size"])

    @property
    def temperature(self) -> float:
        return float(self.card.get("temperature", 1.0))

    @property
    def sure_threshold(self) -> float:
        """The run's own (chosen on validation so "sure" answers were right 95% of the time); 0 for older runs."""
        return float(self.card.get("sure_threshold", 0.0))

    def predict(self, images: list[tuple[str, bytes]], batch_size: int = 32, tta: bool = False,
                threshold: float | None = None) -> list[Prediction | str]:
        """For each (name, bytes): a Prediction (calibrated probabilities; `sure` against `threshold`, by default
        the run's), or a plain reason why the file could not be used. `tta`: the mean of the probabilities for
        the picture and its mirror image (twice the work)."""
        threshold = self.sure_threshold if threshold is None else threshold
        results: list[Prediction | str] = [""] * len(images)
        arrays, where = [], []
        for i, (_, raw) in enumerate(images):
            try:
                arrays.append(self.prepare(raw))
                where.append(i)
            except ImageRejected as exc:
                results[i] = str(exc)
        for start in range(0, len(arrays), batch_size):
            batch = np.stack(arrays[start:start + batch_size])
            probs = with_temperature(self.probabilities(batch), self.temperature)
            if tta:  # the mean of the two calibrated answers, as an ensemble averages its members'
                mirrored = self.probabilities(np.ascontiguousarray(batch[..., ::-1]))
                probs = (probs + with_temperature(mirrored, self.temperature)) / 2
            odd = unusual(batch, self.card)
            for j, p in enumerate(probs):
                i = where[start + j]
                results[i] = Prediction(images[i][0], self.classes[int(p.argmax())],
                                        {c: float(v) for c, v in zip(self.classes, p)},
                                        is_sure(p, threshold) and not odd[j], bool(odd[j]))
        return results

    def probabilities(self, batch_uint8: np.ndarray) -> np.ndarray:
        raise NotImplementedError
