"""Prediction with a trained run's model, without torch: `model.onnx` through onnxruntime, with the
preprocessing of `pictures/preprocess.py` in numpy + PIL. A run whose export or parity check failed (or that
predates export) is predicted by the PyTorch model instead (`predict/pytorch.TorchPredictor`, imported only
then). `model.json` holds the classes in training order, the input size and the normalization, so the
class order can never swap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NocodeError
from ..files import read_json
from ..pictures.portable import is_sure, with_temperature
from .base import NO_MODEL, Prediction, Predictor  # noqa: F401 - the names callers know them by
from ..pictures.preprocess import normalize_array
from ..runs.records import get_run, run_folder
from ..warm_pool import keep_loaded

ENGINES = ("auto", "onnx", "torch")


class OnnxPredictor(Predictor):
    """`model.onnx` (softmax inside: its output is probabilities) on onnxruntime, CUDA when present."""

    engine = "onnx"

    def __init__(self, folder: Path, **limits):
        super().__init__(folder, **limits)
        import onnxruntime as ort

        path = self.folder / "model.onnx"
        if not path.exists():
            raise NocodeError("This run has no exported model.")
        wanted = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), providers=wanted)
        self.input = self.session.get_inputs()[0].name

    def probabilities(self, batch_uint8: np.ndarray) -> np.ndarray:
        x = normalize_array(batch_uint8, self.card["mean"], self.card["std"])
        return self.session.run(None, {self.input: x})[0]


class EnsemblePredictor(Predictor):
    """A soft vote: the weighted mean of the members' calibrated probabilities (each member prepares the
    picture its own way), then the ensemble's own temperature and "sure" threshold (`runs/ensemble.py`). A picture is
    unusual when the first member finds it so."""

    engine = "ensemble"

    def __init__(self, folder: Path, engine: str = "auto", **limits):
        super().__init__(folder, **limits)
        self.members = [(open_predictor(self.folder / m["folder"], engine, **limits), float(m["weight"]))
                        for m in self.card["members"]]

    def predict(self, images, batch_size: int = 32, tta: bool = False, threshold: float | None = None):
        threshold = self.sure_threshold if threshold is None else threshold
        answers = [member.predict(images, batch_size, tta, threshold=0.0) for member, _ in self.members]
        results: list[Prediction | str] = []
        for i, (name, _) in enumerate(images):
            first = answers[0][i]
            if isinstance(first, str):
                results.append(first)
                continue
            probs = sum(weight * np.asarray([a[i].probabilities[c] for c in self.classes])
                        for a, (_, weight) in zip(answers, self.members))
            probs = with_temperature(probs[None], self.temperature)[0]
            results.append(Prediction(name, self.classes[int(probs.argmax())], dict(zip(self.classes, map(float, probs))),
                                      is_sure(probs, threshold) and not first.unusual, first.unusual))
        return results


def is_ensemble(folder: Path) -> bool:
    return (read_json(Path(folder) / "model.json") or {}).get("kind") == "ensemble"


def export_ok(folder: Path) -> bool:
    """The run's ONNX export exists and passed its parity check."""
    report = read_json(Path(folder) / "export.json") or {}
    return bool(report.get("ok")) and (Path(folder) / "model.onnx").exists()


def open_predictor(folder: Path, engine: str = "auto", **limits) -> Predictor:
    """The ONNX predictor when the export passed parity ("auto"), else PyTorch; or the one asked for."""
    if engine not in ENGINES:
        raise NocodeError(f"Unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if not (Path(folder) / "model.json").exists():
        raise NocodeError(NO_MODEL)
    if is_ensemble(folder):
        return EnsemblePredictor(folder, engine, **limits)
    if engine == "onnx" or (engine == "auto" and export_ok(folder)):
        return OnnxPredictor(folder, **limits)
    from .pytorch import TorchPredictor

    return TorchPredictor(folder, **limits)


def job_predictor(job: dict) -> Predictor:
    """For a helper job (`slots.run_job`): the predictor of the run in the job's "model" folder, with the job's
    picture limits, kept loaded in a warm helper for its next job."""
    limits = {"max_side": job["max_side"], "max_pixels": job["max_pixels"]}
    return keep_loaded("predict", job["model"], lambda: open_predictor(Path(job["model"]), **limits), **limits)


def predictor_for(ws, user, run_id: str, engine: str = "auto") -> Predictor:
    """The model of one of the user's runs (any run for an admin), with the workspace's picture limits."""
    run = get_run(ws, user, run_id)
    s = ws.settings
    return open_predictor(run_folder(ws, run), engine, max_side=s.image_max_side, max_pixels=s.max_image_pixels)
