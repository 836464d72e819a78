"""Auto end to end against the plain loop, both from a cold process, in one run (issue: Auto recipe):

  auto    `nocode train --wait` with everything left to Auto, timed from the command's start to its exit
  plain   benchmarks/plain_loop.py (ImageFolder + PIL every epoch, Adam, batch 32, 15 epochs, the same small
          CNN at the picture size Auto chose), on the same training and validation pictures

on real photographs (scikit-image's brick, grass and gravel textures, 360 and an imbalanced 200/40/12; its
face / not-face subset of Labeled Faces in the Wild, 180), on generated pictures (shapes; one set imbalanced
200/40/12) and on scikit-learn's 1,797 digit scans, for two seeds each. Also: how stable Auto's validation
curve is (the largest drop, after epoch 3, below the best so far) and where the seconds of the smallest run
go (`run.timings`, the worker's phases).

    pip install scikit-learn scikit-image   # the digits and the photographs; not dependencies of the app
    python benchmarks/bench_auto.py [--seeds 0,1] [--only digits,shapes-360] [--figures DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO, machine, table  # noqa: E402
from benchmarks._data import SHAPES, digits_zip, faces_zip, shape_picture, shapes_zip, textures_zip  # noqa: E402


def imbalanced_zip(counts=(200, 40, 12), size: int = 96) -> bytes:
    import numpy as np

    rng = np.random.default_rng(7)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for kind, n in zip(SHAPES, counts):
            for i in range(n):
                z.writestr(f"{kind}/{i}.jpg", shape_picture(kind, rng, size))
    return out.getvalue()


DATASETS = {
    "textures-360": lambda: textures_zip((120, 120, 120), 96),
    "faces-180": faces_zip,
    "textures-imbalanced": lambda: textures_zip((200, 40, 12), 96, seed=1),
    "shapes-360": lambda: shapes_zip(120, 96),
    "shapes-180": lambda: shapes_zip(60, 64, seed=3),
    "shapes-imbalanced": imbalanced_zip,
    "digits": digits_zip,
}


def worst_drop(accuracies: list[float]) -> float:
    """The largest fall, after epoch 3, below the best accuracy so far (0 = never fell)."""
    return max([max(accuracies[:i]) - accuracies[i] for i in range(3, len(accuracies))] or [0.0])


def split_folders(ws, user, run, out: Path) -> None:
    """The run's training and validation pictures as train/ and val/ class folders, for the plain loop."""
    from nocode_widgets import datasets as D
    from nocode_widgets.runs.records import run_folder

    ds = D.get_dataset(ws, user, run.dataset_id)
    folder = D.dataset_folder(ws, ds)
    by_hash = {e.hash: e for e in D.read_manifest(folder)}
    split = json.loads((run_folder(ws, run) / "split.json").read_text())
    for part in ("train", "val"):
        for h in split[part]:
            entry = by_hash[h]
            target = out / part / entry.label / entry.file.rsplit("/", 1)[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(folder / entry.file, target)


def one(ws, user, name: str, seed: int, env: dict, tmp: Path, figures: Path | None = None) -> dict:
    from nocode_widgets.runs.jobs import get
    from nocode_widgets.runs.records import read_history, run_folder

    command = [sys.executable, "-m", "nocode_widgets", "train", "--user", user.username, "--dataset", name,
               "--seed", str(seed), "--wait", "--json"]
    began = time.time()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    ended = time.time()
    if not out.stdout.strip():
        raise RuntimeError(out.stderr[-2000:])
    summary = json.loads(out.stdout)
    run = get(ws, user, summary["run_id"])
    if run.status != "done":
        raise RuntimeError(f"{name}: {run.status} {run.error}")
    epochs = read_history(run_folder(ws, run))
    history = [h["val_acc"] for h in epochs]
    if figures:  # the Results panel's learning-curve figure of this run
        from nocode_widgets.insight.plots import learning_curves

        figures.mkdir(parents=True, exist_ok=True)
        (figures / f"{name}-seed{seed}.png").write_bytes(learning_curves(epochs, run.best_epoch))
    folders = tmp / f"{name}-{seed}"
    split_folders(ws, user, run, folders)
    began_plain = time.time()
    plain_out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "plain_loop.py"), str(folders),
                                "--size", str(run.resolved["image_size"]), "--seed", str(seed)],
                               capture_output=True, text=True, check=True, env=env)
    plain_seconds = time.time() - began_plain
    plain = json.loads(plain_out.stdout.strip().splitlines()[-1])
    auto_seconds = ended - began
    pieces = {"command start, submit": run.created - began, "queue to worker": (run.launched or run.created) - run.created,
              **run.timings, "command notices the end": ended - run.finished}
    return {"dataset": name, "seed": seed, "pictures": sum(len(v) for v in json.loads(
                (run_folder(ws, run) / "split.json").read_text()).values()),
            "size": run.resolved["image_size"],
            "auto acc": run.metrics["val_accuracy"], "plain acc": plain["val_accuracy"],
            "plain best": plain["best_val_accuracy"], "auto F1": run.metrics["val_weighted_f1"],
            "plain F1": plain["val_weighted_f1"], "auto macro F1": run.metrics["val_macro_f1"],
            "plain macro F1": plain["val_macro_f1"], "acc diff (pts)": 100 * (run.metrics["val_accuracy"] - plain["val_accuracy"]),
            "auto s": auto_seconds, "plain s": plain_seconds, "time ratio": auto_seconds / plain_seconds,
            "epochs": f"{run.epochs_run}/{run.resolved['epochs']}", "auto worst drop": worst_drop(history),
            "plain worst drop": worst_drop(plain["history"]), "_pieces": pieces}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--only", default=",".join(DATASETS))
    ap.add_argument("--figures", type=Path, help="write each run's learning curves (the Results panel's figure) here")
    args = ap.parse_args()
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-auto-"))
    settings = Settings(data_dir=tmp / "data", argon2_time_cost=1, argon2_memory_kib=1024, allow_weight_download=False)
    ws = Workspace.open(settings=settings)
    user = auth.sign_up(ws, "bench", "password123")
    env = dict(os.environ, NOCODE_DATA_DIR=str(settings.data_dir), NOCODE_ALLOW_WEIGHT_DOWNLOAD="0",
               TORCH_HOME=str(tmp / "torch"), PYTHONPATH=str(REPO))
    rows = []
    for name in args.only.split(","):
        D.import_archive(ws, user, io.BytesIO(DATASETS[name]()), name=name)
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(one(ws, user, name, seed, env, tmp, args.figures))
            print(f"{name} seed {seed}: done", file=sys.stderr, flush=True)
    print(f"Machine: {machine()}\n")
    print(table(rows, ["dataset", "seed", "pictures", "size", "auto acc", "plain acc", "plain best", "acc diff (pts)",
                       "auto F1", "plain F1", "auto macro F1", "plain macro F1",
                       "auto s", "plain s", "time ratio", "epochs", "auto worst drop", "plain worst drop"]))
    smallest = min(rows, key=lambda r: r["auto s"])
    print(f"\nWhere the seconds of the smallest run go ({smallest['dataset']}, seed {smallest['seed']}, "
          f"{smallest['auto s']:.1f} s in all):\n")
    print(table([{"phase": k, "seconds": v} for k, v in smallest["_pieces"].items()], ["phase", "seconds"]))


if __name__ == "__main__":
    main()
