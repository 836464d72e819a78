"""Trained models on disk and prediction. A model is `weights.pt` (a state_dict, loaded with
`weights_only=True`) and `model.json` (architecture, classes in training order, input size,
normalization, library versions): no pickled Python objects. `Predictor` applies exactly the
validation preprocessing recorded there, so the class order can never swap."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .datasets.images import ImageRejected, normalize_image
from .errors import NocodeError
from .files import read_json, write_json_atomic
from .preprocess import load_rgb, normalize_batch, to_uint8_tensor
from .zoo import build_model

FORMAT = 1


def save_model(folder: Path, model: nn.Module, arch: str, classes: list[str], image_size: int, mean, std,
               **extra) -> None:
    import torchvision

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = folder / "weights.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(folder / "weights.pt")
    write_json_atomic(folder / "model.json", {
        "format": FORMAT, "arch": arch, "classes": list(classes), "image_size": image_size,
        "mean": list(mean), "std": list(std), "preprocess": "shorter side to image_size, centre crop",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "nocode_widgets": __version__},
        "saved": time.time(), **extra})


def predictor_for(ws, user, run_id: str) -> "Predictor":
    """The model of one of the user's runs (any run for an admin), with the workspace's picture limits."""
    from .training.runs import get_run, run_folder

    run = get_run(ws, user, run_id)
    s = ws.settings
    return Predictor(run_folder(ws, run), max_side=s.image_max_side, max_pixels=s.max_image_pixels)


@dataclass(frozen=True)
class Prediction:
    name: str
    label: str
    probabilities: dict  # class -> probability, in training order

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:k]


class Predictor:
    def __init__(self, folder: Path, device: str = "cpu", max_side: int = 512, max_pixels: int = 50_000_000):
        card = read_json(Path(folder) / "model.json")
        weights = Path(folder) / "weights.pt"
        if card is None or not weights.exists():
            raise NocodeError("This run has no trained model to test (it may have stopped before its first epoch).")
        self.card, self.classes = card, list(card["classes"])
        self.device = torch.device(device)
        self.model = build_model(card["arch"], len(self.classes))
        self.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.model.to(self.device).eval()
        self.max_side, self.max_pixels = max_side, max_pixels

    def predict(self, images: list[tuple[str, bytes]], batch_size: int = 32) -> list[Prediction | str]:
        """For each (name, bytes): a Prediction, or a plain reason why the file could not be used."""
        results: list[Prediction | str] = [""] * len(images)
        tensors, where = [], []
        for i, (name, raw) in enumerate(images):
            try:
                safe = normalize_image(raw, max(self.max_side, self.card["image_size"]), self.max_pixels)
            except ImageRejected as exc:
                results[i] = str(exc)
                continue
            tensors.append(to_uint8_tensor(load_rgb(safe.data), self.card["image_size"]))
            where.append(i)
        for start in range(0, len(tensors), batch_size):
            probs = self.probabilities(torch.stack(tensors[start:start + batch_size]))
            for j, p in enumerate(probs):
                i = where[start + j]
                label = self.classes[int(p.argmax())]
                results[i] = Prediction(images[i][0], label, {c: float(v) for c, v in zip(self.classes, p)})
        return results

    @torch.no_grad()
    def probabilities(self, batch_uint8: torch.Tensor) -> torch.Tensor:
        x = normalize_batch(batch_uint8.to(self.device), self.card["mean"], self.card["std"])
        return torch.softmax(self.model(x).float(), 1).cpu()
