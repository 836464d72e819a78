"""The PyTorch predictor: a run's `weights.pt` in the model it was trained as. Used where torch is loaded
anyway (worker processes, `nocode predict --engine torch`) and for a run whose ONNX export is missing or
failed its parity check; the page's kernels predict with ONNX (`predict`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import NocodeError
from .base import NO_MODEL, Predictor
from ..pictures.preprocess import normalize_batch
from ..models.zoo import build_model, load_weights


class TorchPredictor(Predictor):
    engine = "torch"

    def __init__(self, folder: Path, device: str = "cpu", **limits):
        super().__init__(folder, **limits)
        weights = self.folder / "weights.pt"
        if not weights.exists():
            raise NocodeError(NO_MODEL)
        self.device = torch.device(device)
        self.model = build_model(self.card["arch"], len(self.classes))
        load_weights(self.model, torch.load(weights, map_location="cpu", weights_only=True))
        self.model.to(self.device).eval()

    @torch.no_grad()
    def probabilities(self, batch_uint8: np.ndarray) -> np.ndarray:
        x = normalize_batch(torch.from_numpy(batch_uint8).to(self.device), self.card["mean"], self.card["std"])
        return torch.softmax(self.model(x).float(), 1).cpu().numpy()
