"""Label review and calibration, measured (issue 14).

1. Check my labels: 10% of the labels flipped on purpose (each chosen picture filed under the next class),
   then the K-fold out-of-sample ranking (`review.check_labels`) against the in-sample loss ranking
   (fastai's way: one model trained on every picture ranks its own pictures), measured in the same run:
   the share of flipped pictures among the top k (k = the number flipped), and the flagged set's
   precision and recall.
2. Calibration: an Auto run on the clean labels; temperature, expected calibration error before/after
   (after: cross-fitted halves), the "not sure" threshold with its coverage and accuracy, and how many
   out-of-distribution pictures (plain noise, blank pages) come back "not sure".

    python benchmarks/bench_insight.py [--datasets shapes,digits] [--folds 4]

digits needs scikit-learn in the benchmark's environment (not a dependency of the app).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks._data import digits_zip, shapes_zip  # noqa: E402

FLIP = 0.10


def flipped(zip_bytes: bytes, seed: int = 0) -> tuple[bytes, set[str]]:
    """The same pictures with FLIP of them filed under the next class; and their original paths."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        data = {n: z.read(n) for n in names}
    classes = sorted({n.split("/")[0] for n in names})
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(names, size=round(FLIP * len(names)), replace=False).tolist())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n in names:
            label, file = n.split("/", 1)
            if n in chosen:
                label = classes[(classes.index(label) + 1) % len(classes)]
            z.writestr(f"{label}/{n.replace('/', '_')}", data[n])
    return out.getvalue(), {n.replace("/", "_") for n in chosen}


def noise_and_blanks(n: int = 40) -> list[tuple[str, bytes]]:
    from PIL import Image

    rng = np.random.default_rng(3)
    out = []
    for k in range(n):
        array = rng.integers(0, 256, (64, 64, 3)) if k < n - 4 else np.full((64, 64, 3), (0, 255, 128, 60)[k % 4])
        buf = io.BytesIO()
        Image.fromarray(array.astype(np.uint8)).save(buf, "PNG")
        out.append((f"ood-{k}.png", buf.getvalue()))
    return out


def review_rows(ws, user, name: str, zip_bytes: bytes, folds: int) -> dict:
    from nocode_widgets import datasets as D
    from nocode_widgets.insight.label_check import check_labels, rank
    from nocode_widgets.training.label_folds import out_of_sample

    noisy, chosen = flipped(zip_bytes)
    ds = D.get_dataset(ws, user, D.import_archive(ws, user, io.BytesIO(noisy), name=f"{name}-noisy").dataset_id)
    original = {e.file: e.original.split("/")[-1] for e in D.read_manifest(D.dataset_folder(ws, ds))}
    k = len(chosen)
    review = check_labels(ws, user, ds.id, folds)
    top = {original[f.file] for f in review.ranked[:k]}
    flagged = {original[f.file] for f in review.flagged}
    base = out_of_sample(ws, user, ds.id, folds=1)
    order, *_ = rank(base["probabilities"], base["labels"])
    base_top = {original[base["files"][i]] for i in order[:k]}
    return {"dataset": name, "pictures": ds.image_count, "flipped": k,
            f"top-k, {folds}-fold": len(chosen & top) / k, "top-k, in-sample loss": len(chosen & base_top) / k,
            "flagged": len(flagged), "flag precision": len(chosen & flagged) / max(len(flagged), 1),
            "flag recall": len(chosen & flagged) / k, "seconds": review.seconds, "in-sample s": base["seconds"]}


def zip_pictures(zip_bytes: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return [(n, z.read(n)) for n in z.namelist() if not n.endswith("/")]


def calibration_row(ws, user, name: str, zip_bytes: bytes, fresh: bytes | None = None) -> dict:
    from nocode_widgets import datasets as D
    from nocode_widgets.predict.onnx import predictor_for
    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.runs.records import create_run, read_evaluation, run_folder

    ds = D.get_dataset(ws, user, D.import_archive(ws, user, io.BytesIO(zip_bytes), name=name).dataset_id)
    run = execute_run(ws, create_run(ws, user, ds, {}).id)
    cal = read_evaluation(run_folder(ws, run))["validation"]["calibration"]
    predictor = predictor_for(ws, user, run.id)
    results = predictor.predict(noise_and_blanks())
    new = predictor.predict(zip_pictures(fresh)) if fresh else []
    return {"dataset": name, "val pictures": cal["count"], "accuracy": run.metrics["val_accuracy"],
            "T": cal["temperature"], "ECE before": cal["ece_before"], "ECE after": cal["ece_after"],
            "NLL before": cal["nll_before"], "NLL after": cal["nll_after"], "threshold": cal["threshold"],
            "sure share": cal["coverage"], "sure accuracy": cal["sure_accuracy"],
            "OOD not sure": sum(not r.sure for r in results) / len(results),
            "new pictures called unusual": sum(r.unusual for r in new) / len(new) if new else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="shapes,digits")
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    from nocode_widgets.accounts import auth
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    sources = {"shapes": lambda: shapes_zip(120, size=64), "digits": lambda: digits_zip(32)}
    fresh = {"shapes": lambda: shapes_zip(40, size=64, seed=9)}  # more of the same kind, never seen
    reviews, calibrations = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(settings=Settings(data_dir=Path(tmp) / "data", allow_weight_download=False))
        user = auth.sign_up(ws, "bench", "password-bench")
        for name in args.datasets.split(","):
            data = sources[name]()
            reviews.append(review_rows(ws, user, name, data, args.folds))
            calibrations.append(calibration_row(ws, user, name, data, fresh[name]() if name in fresh else None))
    print(f"Machine: {machine()}")
    print("\nCheck my labels: 10% of labels flipped; share of them in the top k (k = flipped)")
    print(table(reviews, list(reviews[0])))
    print("\nCalibration of an Auto run (validation pictures); OOD: 36 noise pictures and 4 blank pages; "
          "new pictures: 120 more generated shapes (shapes only)")
    print(table(calibrations, list(calibrations[0])))


if __name__ == "__main__":
    main()
