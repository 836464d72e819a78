"""Auto end to end against two plain loops, in one run (issues: Auto recipe; no cold starts):

  auto    `nocode train --wait` with everything left to Auto, timed from the command's start to its exit, with
          the warm start on (the app's default: the run's worker forked from the warm process, which is up)
  plain   benchmarks/plain_loop.py, a cold process (ImageFolder + PIL every epoch, Adam, batch 32, 15 epochs, at
          the picture size Auto chose) with the app's small CNN ("plain") and with the origin project's lighter
          network ("light", 0.29 M parameters), on the same training and validation pictures

on real photographs (scikit-image's brick, grass and gravel textures, 360 and an imbalanced 200/40/12; its
face / not-face subset of Labeled Faces in the Wild, 180; the harder set: which of five photographs a patch
comes from, 450), on generated pictures (shapes; one set imbalanced 200/40/12) and on scikit-learn's 1,797
digit scans, for two seeds each. Also: how stable Auto's validation curve is (the largest drop, after epoch 3,
below the best so far), where the seconds of the smallest run go (`run.timings`, the worker's phases), and the
waits a person sees (start -> first epoch, start -> done, heat maps, an estimate), cold beside warm.

    pip install scikit-learn scikit-image   # the digits and the photographs; not dependencies of the app
    python benchmarks/bench_auto.py [--seeds 0,1] [--only digits,shapes-360] [--figures DIR] [--starts-only]
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
from benchmarks._data import (SHAPES, digits_zip, faces_zip, photo_patches_zip, shape_picture,  # noqa: E402
                              shapes_zip, textures_zip)


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
    "photos-450": photo_patches_zip,
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
    plain, plain_seconds = plain_loop(folders, run.resolved["image_size"], seed, "small", env)
    light, light_seconds = plain_loop(folders, run.resolved["image_size"], seed, "light", env)
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
            "light acc": light["val_accuracy"], "light F1": light["val_weighted_f1"],
            "auto s": auto_seconds, "plain s": plain_seconds, "time ratio": auto_seconds / plain_seconds,
            "light s": light_seconds, "light ratio": auto_seconds / light_seconds,
            "epochs": f"{run.epochs_run}/{run.resolved['epochs']}", "auto worst drop": worst_drop(history),
            "plain worst drop": worst_drop(plain["history"]), "_pieces": pieces}


def plain_loop(folders: Path, size: int, seed: int, net: str, env: dict) -> tuple[dict, float]:
    began = time.time()
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "plain_loop.py"), str(folders), "--size", str(size),
                          "--seed", str(seed), "--net", net], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1]), time.time() - began


def warm_up(settings) -> None:
    """The warm process up before anything is timed, as on a server that has run something already."""
    from nocode_widgets.warm_pool import start_warm

    start_warm(settings)
    deadline = time.time() + 120
    while not (settings.data_dir / "slots" / "warm.sock").exists():
        if time.time() > deadline:
            raise RuntimeError("the warm process did not start")
        time.sleep(0.2)


def starts(repeat: int) -> list[dict]:
    """What a person waits for on a 180-picture set (3 classes, 64 px, 3 epochs), through the run service and
    the page's own calls, cold (every run and helper a new Python) and warm (the app's default): Start -> first
    epoch (its line in history.jsonl, polled every 20 ms), Start -> done, a heat map of 1 picture (the first
    request and the next, another picture), an estimate. Medians of `repeat`."""
    from nocode_widgets import datasets as D
    from nocode_widgets.accounts import auth
    from nocode_widgets.config import Settings
    from nocode_widgets.insight.explain import explain
    from nocode_widgets.runs import jobs
    from nocode_widgets.runs.plan import estimate
    from nocode_widgets.runs.records import read_history, run_folder
    from nocode_widgets.warm_pool import stop_warm
    from nocode_widgets.workspace import Workspace
    from tests.images import COLORS, class_files, make_zip, picture

    figures: dict[str, dict[str, list[float]]] = {}
    helper_memory: list[float] = []
    for warm in (False, True):
        got = figures["warm" if warm else "cold"] = {}
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            settings = Settings(data_dir=Path(tmp) / "data", argon2_time_cost=1, argon2_memory_kib=1024,
                                warm_start=warm)
            ws = Workspace.open(settings=settings)
            try:
                user = auth.sign_up(ws, "bench", "bench-password")
                ds = D.import_archive(ws, user, io.BytesIO(make_zip(class_files(("red", "blue", "green"), 60,
                                                                                size=(64, 48)))), name="180")
                config = {"epochs": 3, "image_size": 64}
                if warm:
                    warm_up(settings)
                for k in range(repeat):
                    began = time.perf_counter()
                    run = jobs.submit(ws, user, ds.dataset_id, config)
                    first_epoch = None
                    while jobs.get(ws, user, run.id).status not in ("done", "failed", "cancelled", "interrupted"):
                        if first_epoch is None and read_history(run_folder(ws, run)):
                            first_epoch = time.perf_counter() - began
                        time.sleep(0.02)
                    got.setdefault("Start -> first epoch", []).append(first_epoch or time.perf_counter() - began)
                    got.setdefault("Start -> done", []).append(time.perf_counter() - began)
                    for which in ("first", "next"):
                        began = time.perf_counter()
                        explain(ws, user, run.id, [(f"{which}.jpg", picture(COLORS["red"], size=(64, 48),
                                                                            seed=100 * k + len(which)))])
                        got.setdefault(f"heat map, {which} picture of a run", []).append(time.perf_counter() - began)
                    began = time.perf_counter()
                    estimate(ws, user, ds.dataset_id)
                    got.setdefault("estimate", []).append(time.perf_counter() - began)
                if warm:  # the helper that served them, a model loaded: its memory, and what it shares
                    from benchmarks.bench_warm_start import memory_of

                    mark = json.loads((settings.data_dir / "slots" / "helper-0.pid").read_text())
                    helper_memory.extend(memory_of(mark["pid"]))
            finally:
                stop_warm(settings)
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    print(f"The warm helper after these jobs: RSS {helper_memory[0]:.0f} MB, PSS {helper_memory[1]:.0f} MB")
    return [{"what": what, "cold s": median(values), "warm s": median(figures["warm"][what]),
             "warm / cold": median(figures["warm"][what]) / median(values)} for what, values in figures["cold"].items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--only", default=",".join(DATASETS))
    ap.add_argument("--figures", type=Path, help="write each run's learning curves (the Results panel's figure) here")
    ap.add_argument("--starts-only", action="store_true", help="only the waits a person sees, cold and warm")
    ap.add_argument("--no-starts", action="store_true", help="skip the waits a person sees")
    ap.add_argument("--repeat", type=int, default=3, help="of each wait")
    args = ap.parse_args()
    print(f"Machine: {machine()}\n")
    if not args.no_starts:
        print(table(starts(args.repeat), ["what", "cold s", "warm s", "warm / cold"]), flush=True)
    if args.starts_only:
        return
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-auto-"))
    settings = Settings(data_dir=tmp / "data", argon2_time_cost=1, argon2_memory_kib=1024, allow_weight_download=False,
                        warm_start=True)
    ws = Workspace.open(settings=settings)
    user = auth.sign_up(ws, "bench", "password123")
    env = dict(os.environ, **settings.to_env(), TORCH_HOME=str(tmp / "torch"), PYTHONPATH=str(REPO))
    rows = []
    try:
        warm_up(settings)
        for name in args.only.split(","):
            D.import_archive(ws, user, io.BytesIO(DATASETS[name]()), name=name)
            for seed in (int(s) for s in args.seeds.split(",")):
                rows.append(one(ws, user, name, seed, env, tmp, args.figures))
                print(f"{name} seed {seed}: done, Auto's phases: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in rows[-1]["_pieces"].items()), file=sys.stderr, flush=True)
    finally:
        from nocode_widgets.warm_pool import stop_warm

        stop_warm(settings)
    print()
    print(table(rows, ["dataset", "seed", "pictures", "size", "auto acc", "plain acc", "light acc", "acc diff (pts)",
                       "auto F1", "plain F1", "light F1", "auto macro F1", "plain macro F1",
                       "auto s", "plain s", "light s", "time ratio", "light ratio", "epochs", "auto worst drop",
                       "plain worst drop"]))
    smallest = min(rows, key=lambda r: r["auto s"])
    print(f"\nWhere the seconds of the smallest run go ({smallest['dataset']}, seed {smallest['seed']}, "
          f"{smallest['auto s']:.1f} s in all):\n")
    print(table([{"phase": k, "seconds": v} for k, v in smallest["_pieces"].items()], ["phase", "seconds"]))


if __name__ == "__main__":
    main()
