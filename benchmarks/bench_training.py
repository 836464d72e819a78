"""Training speed and memory, each figure beside a baseline measured in the same run:

  loop      fit-loop overhead: our fit() vs a bare PyTorch loop on the same tensors and model
  pipeline  our uint8 tensor cache vs ImageFolder + PIL every epoch (how the origin project trained)
  auto      time to accuracy: Auto (early stopping) vs a fixed 30-epoch run without early stopping
  archs     every architecture: parameters, training images/s at 64 and 128 px, peak memory
  memory    peak memory of a whole 2,000-picture run at 128 px
  flops     achieved FLOP/s of Auto's CPU model vs this machine's fp32 matmul peak

    python benchmarks/bench_training.py [--only loop,auto,...]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, peak_rss_mb, run_case, table  # noqa: E402

CASES = ("loop", "pipeline", "auto", "archs", "memory", "flops")


# Shared set-up -------------------------------------------------------------------------------------------------

def workspace(tmp: Path, per_class: int, picture_size: int = 96):
    from benchmarks._data import shapes_zip
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    ws = Workspace.open(settings=Settings(data_dir=tmp, argon2_time_cost=1, argon2_memory_kib=1024,
                                          allow_weight_download=False))
    user = auth.sign_up(ws, "bench", "password123")
    report = D.import_archive(ws, user, io.BytesIO(shapes_zip(per_class, picture_size)), name="shapes")
    return ws, user, D.get_dataset(ws, user, report.dataset_id)


def cached_tensors(ws, user, ds, size: int):
    import torch

    from nocode_widgets import datasets as D
    from nocode_widgets.training.data import build_cache

    folder = D.dataset_folder(ws, ds)
    entries = D.read_manifest(folder)
    classes = list(ds.classes)
    labels = torch.tensor([classes.index(e.label) for e in entries])
    start = time.perf_counter()
    cache = build_cache([folder / e.file for e in entries], [e.hash for e in entries], size, folder / "cache")
    return cache, labels, time.perf_counter() - start, entries, folder


def cfg_for(**changes):
    from nocode_widgets.runs.train_config import TrainConfig

    base = dict(arch="small_cnn", mode="fine-tune", image_size=64, batch_size=32, epochs=3, lr=2e-3, patience=99,
                schedule="none", augment="none", sampler="shuffle", label_smoothing=0.0, channels_last=False)
    return TrainConfig(**{**base, **changes})


def bare_loop(model, cache, labels, idx, cfg, epochs: int, channels_last: bool, bf16: bool = False) -> float:
    """The plainest training loop on the same uint8 tensors: shuffle, normalize, step. Seconds."""
    import contextlib

    import torch

    from nocode_widgets.pictures.preprocess import normalize_batch
    from nocode_widgets.models.zoo import IMAGENET_MEAN, IMAGENET_STD

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    idx = torch.as_tensor(idx)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = idx[torch.randperm(len(idx))]
        for b in range(len(order) // cfg.batch_size):
            i = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            x = normalize_batch(cache[i], IMAGENET_MEAN, IMAGENET_STD)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with ctx:
                loss = torch.nn.functional.cross_entropy(model(x), labels[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def ours(cache, labels, train_idx, val_idx, cfg) -> float:
    import torch

    from nocode_widgets.training.fit import ImageFeeder, fit
    from nocode_widgets.models.zoo import IMAGENET_MEAN, IMAGENET_STD, build_model

    torch.manual_seed(0)
    model = build_model(cfg.arch, int(labels.max()) + 1)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    feed = ImageFeeder(cache, IMAGENET_MEAN, IMAGENET_STD, torch.device("cpu"), cfg.augment, cfg.channels_last)
    start = time.perf_counter()
    fit(model, feed, labels, train_idx, val_idx, cfg, torch.device("cpu"))
    return time.perf_counter() - start


# Cases --------------------------------------------------------------------------------------------------------------

def case_loop(tmp: Path) -> list[dict]:
    import torch

    from nocode_widgets.training.fit import set_cpu_threads
    from nocode_widgets.models.zoo import build_model

    set_cpu_threads()
    ws, user, ds = workspace(tmp, 400)
    cache, labels, _, _, _ = cached_tensors(ws, user, ds, 64)
    n = len(labels)
    val = list(range(0, n, 20))  # 5% validated each epoch by ours; the bare loop validates nothing
    train = [i for i in range(n) if i % 20]
    rows = []
    for cl in (False, True):
        cfg = cfg_for(channels_last=cl)
        epochs = cfg.epochs
        torch.manual_seed(0)
        model = build_model("small_cnn", 3)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        bare = bare_loop(model, cache, labels, train, cfg, epochs, cl)
        mine = ours(cache, labels, train, val, cfg)
        images = epochs * (len(train) // cfg.batch_size) * cfg.batch_size
        rows.append({"case": f"small_cnn 64px{' channels_last' if cl else ''}", "bare_img_s": images / bare,
                     "ours_img_s": images / mine, "ratio": bare / mine})
    torch.manual_seed(0)
    model = build_model("small_cnn", 3).to(memory_format=torch.channels_last)
    cfg = cfg_for(channels_last=True)
    bf16 = bare_loop(model, cache, labels, train, cfg, 1, True, bf16=True)
    rows.append({"case": "bare loop, CPU bf16 autocast (channels_last)", "bare_img_s": len(train) // 32 * 32 / bf16})
    return rows


def case_pipeline(tmp: Path) -> list[dict]:
    import torch
    import torchvision
    from torchvision import transforms

    from nocode_widgets.training.fit import set_cpu_threads
    from nocode_widgets.models.zoo import IMAGENET_MEAN, IMAGENET_STD, build_model

    set_cpu_threads()
    ws, user, ds = workspace(tmp, 200, picture_size=256)
    rows = []
    for size in (64, 128):
        epochs = 3
        cache, labels, cache_s, entries, folder = cached_tensors(ws, user, ds, size)
        n = len(labels)
        cfg = cfg_for(image_size=size, epochs=epochs, channels_last=True)
        mine = cache_s + ours(cache, labels, list(range(n)), list(range(0, n, 50)), cfg)
        root = tmp / f"imagefolder-{size}"  # the same stored pictures, laid out for ImageFolder
        for e in entries:
            (root / e.label).mkdir(parents=True, exist_ok=True)
            (root / e.label / Path(e.file).name).symlink_to(folder / e.file)
        tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(),
                                 transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        loader = torch.utils.data.DataLoader(torchvision.datasets.ImageFolder(root, tf), batch_size=32, shuffle=True)
        torch.manual_seed(0)
        model = build_model("small_cnn", 3).to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        start = time.perf_counter()
        for _ in range(epochs):
            for x, y in loader:
                loss = torch.nn.functional.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        baseline = time.perf_counter() - start
        rows.append({"size": size, "epochs": epochs, "pictures": n, "imagefolder_s": baseline, "ours_s": mine,
                     "ours_cache_s": cache_s, "speedup": baseline / mine})
    return rows


def case_auto(tmp: Path, seeds=(0, 1, 2)) -> list[dict]:
    """Per seed (the split and the initial weights change with it), Auto as a user gets it, then the
    same settings for a fixed 30 epochs without early stopping (its last epoch counts)."""
    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.runs.records import create_run, read_history, run_folder

    ws, user, ds = workspace(tmp, 100)
    rows = []
    for seed in seeds:
        auto = execute_run(ws, create_run(ws, user, ds, {"seed": seed}).id)
        fixed = execute_run(ws, create_run(ws, user, ds, {**auto.resolved, "epochs": 30, "patience": 30}).id)
        last = read_history(run_folder(ws, fixed))[-1]
        rows += [{"run": f"seed {seed}: Auto", "epochs": auto.epochs_run, "seconds": auto.seconds,
                  "val_accuracy": auto.metrics["val_accuracy"]},
                 {"run": f"seed {seed}: fixed 30 epochs", "epochs": fixed.epochs_run, "seconds": fixed.seconds,
                  "val_accuracy": last["val_acc"]}]
    mean = lambda kind, key: sum(r[key] for r in rows if kind in r["run"]) / len(seeds)  # noqa: E731
    rows.append({"run": "mean: Auto / fixed", "seconds": mean("Auto", "seconds") / mean("fixed", "seconds"),
                 "val_accuracy": mean("Auto", "val_accuracy") - mean("fixed", "val_accuracy")})
    return rows


def case_arch(tmp: Path, name: str) -> dict:
    import torch

    from nocode_widgets.models import zoo
    from nocode_widgets.training.fit import set_cpu_threads

    set_cpu_threads()
    torch.manual_seed(0)
    model = zoo.build_model(name, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    row = {"arch": name, "params_M": zoo.param_count(model) / 1e6}
    for size in (64, 128):
        if size < zoo.get_arch(name).min_size:
            row[f"img_s_{size}"] = None
            continue
        x, y = torch.randn(8, 3, size, size), torch.randint(0, 3, (8,))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
        row[f"img_s_{size}"] = 8 / min(times[1:])
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def case_memory(tmp: Path) -> list[dict]:
    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.runs.records import create_run

    ws, user, ds = workspace(tmp, 667, picture_size=160)
    before = peak_rss_mb()
    run = execute_run(ws, create_run(ws, user, ds, {"image_size": 128, "epochs": 2, "patience": 2}).id)
    return [{"pictures": ds.image_count, "size": 128, "status": run.status, "seconds": run.seconds,
             "rss_before_run_mb": before, "peak_rss_mb": peak_rss_mb()}]


def case_flops(tmp: Path) -> list[dict]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nocode_widgets.runs.train_config import Facts, TrainConfig, resolve
    from nocode_widgets.training.fit import set_cpu_threads
    from nocode_widgets.models.zoo import build_model

    set_cpu_threads()
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    a @ b
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    peak = 2 * 4096**3 * 5 / (time.perf_counter() - start)
    cfg, _ = resolve(TrainConfig(), Facts("cpu", 600, 3, 96, 1.0, {}))
    rows = []
    for cl in (False, True):
        model = build_model(cfg.arch, 3)
        x, y = torch.randn(cfg.batch_size, 3, cfg.image_size, cfg.image_size), torch.randint(0, 3, (cfg.batch_size,))
        if cl:
            model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters())
        with FlopCounterMode(display=False) as counter:
            torch.nn.functional.cross_entropy(model(x), y).backward()
        flops = counter.get_total_flops()
        for _ in range(2):
            torch.nn.functional.cross_entropy(model(x), y).backward()
        start, steps = time.perf_counter(), 10
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        achieved = flops * steps / (time.perf_counter() - start)
        rows.append({"model": f"{cfg.arch} {cfg.image_size}px batch {cfg.batch_size}{' channels_last' if cl else ''}",
                     "gflop_per_step": flops / 1e9, "achieved_gflop_s": achieved / 1e9,
                     "matmul_peak_gflop_s": peak / 1e9, "fraction_of_peak": achieved / peak})
    return rows


# Driver ---------------------------------------------------------------------------------------------------------------

def run_one(case: str, arg: str | None) -> object:
    with tempfile.TemporaryDirectory() as tmp:
        if case == "arch":
            return case_arch(Path(tmp), arg)
        return globals()[f"case_{case}"](Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--arg")
    parser.add_argument("--only", default=",".join(CASES))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_one(args.case, args.arg)))
        return
    print(f"Training benchmarks ({machine()})\n")
    chosen = args.only.split(",")
    columns = {
        "loop": ["case", "bare_img_s", "ours_img_s", "ratio"],
        "pipeline": ["size", "epochs", "pictures", "imagefolder_s", "ours_s", "ours_cache_s", "speedup"],
        "auto": ["run", "epochs", "seconds", "val_accuracy"],
        "memory": ["pictures", "size", "status", "seconds", "rss_before_run_mb", "peak_rss_mb"],
        "flops": ["model", "gflop_per_step", "achieved_gflop_s", "matmul_peak_gflop_s", "fraction_of_peak"],
    }
    for case in CASES:
        if case not in chosen:
            continue
        if case == "archs":
            from nocode_widgets.models.zoo import ARCHS

            rows = [run_case(__file__, "--case", "arch", "--arg", name) for name in ARCHS]
            print("## archs\n" + table(rows, ["arch", "params_M", "img_s_64", "img_s_128", "peak_rss_mb"]) + "\n",
                  flush=True)
            continue
        rows = run_case(__file__, "--case", case)
        print(f"## {case}\n" + table(rows, columns[case]) + "\n", flush=True)


if __name__ == "__main__":
    main()
