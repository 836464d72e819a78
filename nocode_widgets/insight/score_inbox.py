"""The helper job that scores a dataset's inbox with a run's model (`slots.run_job`). For each picture it writes the calibrated probabilities, whether the
answer is "sure" (the run's own line, and not unusual), and a small look-alike signature (8x8 grey levels,
centred and scaled) that `suggest.py` uses to keep near-duplicates apart. The model is the run's exported ONNX
model when its parity check passed (no torch in this process), else its PyTorch model.

The job (JSON): {"model": run folder, "pictures": [[id, path], ...], "out": path, "progress": path,
"max_side": int, "max_pixels": int}. Progress: {"done", "total"} after every batch."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..files import write_json_atomic
from ..pictures.formats import open_picture
from ..slots import helper_main
from ..predict.onnx import Prediction, job_predictor

BATCH = 32
SIGNATURE_SIDE = 8


def signature(path: Path) -> list[float]:
    """8x8 grey levels of the picture, centred and scaled to length 1 (a flat picture: all zeros). Decoded at a
    fraction of its size (JPEG draft mode), so it costs about a millisecond."""
    with open_picture(path) as image:
        image.draft("L", (SIGNATURE_SIDE * 4, SIGNATURE_SIDE * 4))
        small = np.asarray(image.convert("L").resize((SIGNATURE_SIDE, SIGNATURE_SIDE)), dtype=np.float64).ravel()
    small -= small.mean()
    norm = np.linalg.norm(small)
    return (small / norm if norm > 1e-6 else small * 0).round(4).tolist()


def work(job: dict) -> dict:
    predictor = job_predictor(job)
    pictures = job["pictures"]
    out = {"ids": [], "probabilities": [], "sure": [], "unusual": [], "signatures": [], "refused": {}}
    for start in range(0, len(pictures), BATCH):
        batch = pictures[start:start + BATCH]
        read = []
        for pid, path in batch:
            try:
                read.append((pid, path, Path(path).read_bytes()))
            except OSError:  # filed or discarded meanwhile
                out["refused"][pid] = "it is no longer in the inbox"
        batch = [(pid, path) for pid, path, _ in read]
        results = predictor.predict([(pid, raw) for pid, _, raw in read])
        for (pid, path), result in zip(batch, results):
            if not isinstance(result, Prediction):
                out["refused"][pid] = result
                continue
            out["ids"].append(pid)
            out["probabilities"].append([round(result.probabilities[c], 5) for c in predictor.classes])
            out["sure"].append(result.sure)
            out["unusual"].append(result.unusual)
            out["signatures"].append(signature(Path(path)))
        write_json_atomic(Path(job["progress"]), {"done": min(start + BATCH, len(pictures)), "total": len(pictures)})
    out["classes"] = predictor.classes
    out["threshold"] = predictor.sure_threshold
    return out


if __name__ == "__main__":
    sys.exit(helper_main(sys.argv[1:], work))
