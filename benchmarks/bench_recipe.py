"""Auto's recipe, one change at a time, in one process (the evidence behind `runs/train_config.py`):

every variant trains the small CNN with `fit_and_evaluate` on the same pictures and the same split (seed 0's), with
several seeds (initial weights and batch order), and is judged as a user would judge it: validation accuracy and weighted
F1 of the kept model, whether the run took off, how far the validation curve fell below its best so far
after epoch 3, and the seconds. The baseline is Auto's recipe as it stands, measured in the same run.

    pip install scikit-learn scikit-image   # the digits and the real photographs; not app dependencies
    python benchmarks/bench_recipe.py [--data textures-360,faces-180] [--inits 0,1,2,3] [--variants auto,...] [--curves]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks.bench_auto import DATASETS, worst_drop  # noqa: E402

# name -> changes from Auto's recipe (the first one, "auto", is the baseline): TrainConfig fields set after Auto
# resolved (a new batch size also re-sizes the budget of passes), or "module.NAME" constants of
# nocode_widgets.training's modules, set while Auto resolves and the run trains.
VARIANTS: dict[str, dict] = {
    "auto": {},
    "running-bn": {"precise_bn": False},  # the BatchNorm averages kept during training (the earlier recipe)
    "no-average": {"ema": False},
    "running-bn-no-average": {"precise_bn": False, "ema": False},
    "no-restart": {"restart_stalled": False},
    "no-progressive": {"progressive": False},  # every step at the full picture size (the earlier recipe)
    "no-learned-stop": {"fit.LEARNED": 2.0},  # only the patience rule ends a run early
    "bn-128": {"fit.BN_PICTURES": 128},
    "bn-64": {"fit.BN_PICTURES": 64},
    "batch-16": {"batch_size": 16},
    "lr-1e-3": {"lr": 1e-3},
    "lr-2e-3": {"lr": 2e-3},
    "lr-6e-3": {"lr": 6e-3},
    "smoothing": {"label_smoothing": 0.1},
    "shuffled": {"sampler": "shuffle"},  # imbalanced sets: no weighted sampling (label smoothing kept)
    "weighted": {"sampler": "weighted"},  # class-balanced batches (Auto's choice for imbalanced sets until now)
    "shuffled-plain": {"sampler": "shuffle", "label_smoothing": 0.0},
    "class-weights": {"sampler": "shuffle", "class_weights": True},
}


@contextmanager
def patched(changes: dict):
    """Set the "module.NAME" constants of `changes` for the duration."""
    import importlib

    saved = []
    for key, value in changes.items():
        module = importlib.import_module(f"nocode_widgets.training.{key.split('.')[0]}")
        saved.append((module, key.split(".")[1], getattr(module, key.split(".")[1])))
        setattr(module, saved[-1][1], value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def prepared(ws, user, name: str):
    """(Auto's facts, labels, the split of seed 0, a function giving the picture cache at a size) for `name`."""
    import torch

    from nocode_widgets import datasets as D
    from nocode_widgets.runs.train_config import TrainConfig
    from nocode_widgets.training.data import build_cache, stable_split
    from nocode_widgets.runs.facts import dataset_facts
    from nocode_widgets.training.device_probe import worker_locate
    from nocode_widgets.training.fit import cpu_has_fast_bf16

    ds = next(d for d in D.list_datasets(ws, user) if d.name == name)
    ds, folder, entries, classes, facts = dataset_facts(ws, user, ds.id, "cpu", cpu_has_fast_bf16(), TrainConfig(),
                                                        worker_locate(ws))
    labels = torch.tensor([classes.index(e.label) for e in entries])
    hashes = [e.hash for e in entries]
    split = stable_split(folder, hashes, labels.tolist(), ds.version, 0.2, 0.0, 0)
    cache = lambda size: build_cache([folder / e.file for e in entries], hashes, size, folder / "cache")  # noqa: E731
    return facts, labels, split, cache


def recipe(facts, changes: dict, train_images: int):
    """Auto's resolved config with `changes`' fields (module constants are set by the caller)."""
    from nocode_widgets.runs.train_config import TrainConfig, budget_epochs, resolve

    cfg, _ = resolve(TrainConfig(), facts)
    fields_ = {k: v for k, v in changes.items() if "." not in k}
    if "batch_size" in fields_ and "epochs" not in fields_:
        fields_["epochs"] = budget_epochs(train_images, fields_["batch_size"])
    return replace(cfg, **fields_)


def one(cfg, labels, split, cache, init: int) -> dict:
    """Train with seed `init` (initial weights and batch order; the split stays the same); the run's figures."""
    from nocode_widgets.runs.events import Restarted
    from nocode_widgets.training.engine import FitJob, fit_and_evaluate

    job = FitJob("bench", replace(cfg, seed=init).to_json(), [str(i) for i in range(int(labels.max()) + 1)],
                 labels, split, cache)
    restarted = []
    started = time.perf_counter()
    out = fit_and_evaluate(job, lambda event: restarted.append(1) if isinstance(event, Restarted) else None)
    seconds = time.perf_counter() - started
    accuracies = [h["val_acc"] for h in out.history]
    return {"acc": out.metrics.get("val_accuracy", 0.0), "f1": out.metrics.get("val_weighted_f1", 0.0),
            "macro": out.metrics.get("val_macro_f1", 0.0),
            "drop": worst_drop(accuracies), "epochs": len(out.history), "restarted": bool(restarted),
            "seconds": seconds, "curve": " ".join(f"{a:.2f}" for a in accuracies)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="textures-360,faces-180,textures-imbalanced,shapes-180,digits")
    ap.add_argument("--inits", default="0,1,2,3")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--curves", action="store_true", help="print every run's validation accuracy per epoch")
    args = ap.parse_args()
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-recipe-"))
    ws = Workspace.open(settings=Settings(data_dir=tmp, argon2_time_cost=1, argon2_memory_kib=1024,
                                          allow_weight_download=False))
    user = auth.sign_up(ws, "bench", "password123")
    rows, curves = [], []
    inits = [int(i) for i in args.inits.split(",")]
    for name in args.data.split(","):
        D.import_archive(ws, user, io.BytesIO(DATASETS[name]()), name=name)
        facts, labels, split, cache = prepared(ws, user, name)
        for variant in args.variants.split(","):
            with patched({k: v for k, v in VARIANTS[variant].items() if "." in k}):
                cfg = recipe(facts, VARIANTS[variant], len(split.train))
                runs = [one(cfg, labels, split, cache(cfg.image_size), init) for init in inits]
            curves += [{"dataset": name, "variant": variant, "init": i, **r} for i, r in zip(inits, runs)]
            rows.append({"dataset": name, "variant": variant, "runs": len(runs),
                         "mean acc": statistics.mean(r["acc"] for r in runs), "min acc": min(r["acc"] for r in runs),
                         "mean F1": statistics.mean(r["f1"] for r in runs),
                         "mean macro F1": statistics.mean(r["macro"] for r in runs),
                         "worst drop": max(r["drop"] for r in runs), "restarts": sum(r["restarted"] for r in runs),
                         "mean epochs": statistics.mean(r["epochs"] for r in runs),
                         "mean s": statistics.mean(r["seconds"] for r in runs)})
            print(f"{name} {variant}: done", file=sys.stderr, flush=True)
    print(f"Machine: {machine()}\n")
    print(table(rows, ["dataset", "variant", "runs", "mean acc", "min acc", "mean F1", "mean macro F1", "worst drop",
                       "restarts",
                       "mean epochs", "mean s"]))
    if args.curves:
        print()
        print(table(curves, ["dataset", "variant", "init", "acc", "drop", "restarted", "seconds", "curve"]))


if __name__ == "__main__":
    main()
