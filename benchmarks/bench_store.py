"""The store as history grows: what one operation costs with 300, 3,000 and 30,000 runs in the data folder
(10, 100 and 1,000 people with 30 runs and 3 datasets each, run documents of about 2 KB like the app's),
each figure with its ratio to the 300-run figure; and 8 processes writing for 8 different people against
8 processes writing for one person (who must take turns: the plain baseline of one lock).

Each store is written as a version-1 folder (one file) and opened, so it is migrated as a real one would be
(the migration's time is printed too). Operations run in one process as a page's kernel would (the files it
read before are still parsed in memory while unchanged), best of 20.

    python benchmarks/bench_store.py [--sizes 300,3000,30000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import table  # noqa: E402

RUNS_PER_PERSON, DATASETS_PER_PERSON, WRITES = 30, 3, 25


def run_doc(owner: str, k: int, created: float) -> dict:
    """A run record shaped like the app's (about 2 KB of JSON)."""
    config = {f: None for f in ("arch", "mode", "image_size", "batch_size", "epochs", "lr", "schedule", "augment",
                                "patience", "sampler", "label_smoothing", "amp", "channels_last", "ema")}
    resolved = {**config, "arch": "small_cnn", "mode": "fine-tune", "image_size": 64, "batch_size": 32, "epochs": 12,
                "lr": 0.003, "schedule": "onecycle", "augment": "none", "patience": 4, "optimizer": "adamw",
                "weight_decay": 0.0001, "val_fraction": 0.2, "seed": 0, "loss": "ce", "device": "auto"}
    return {"id": f"run_{owner[2:]}{k:04x}{'%04x' % (hash((owner, k)) & 0xffff)}", "owner": owner,
            "dataset_id": f"ds_{owner[2:]}{k % DATASETS_PER_PERSON:08x}", "dataset_name": f"Dataset {k % 3}",
            "dataset_version": 3, "config": {}, "status": "done", "resolved": resolved,
            "explanation": "Small CNN at 64 px on the CPU, training from scratch; up to 12 epochs, stopping early.",
            "device": "cpu", "created": created, "started": created + 1, "finished": created + 60, "epochs_run": 9,
            "best_epoch": 7, "metrics": {"val_accuracy": 0.93, "val_weighted_f1": 0.92, "val_macro_f1": 0.9,
                                         "train_accuracy": 0.99, "val_loss": 0.21},
            "seconds": 59.0, "pid": 12345, "host": "app", "launched": created + 0.5,
            "export": {"opset": 17, "agree": 36, "total": 36, "max_diff": 1e-6, "ok": True},
            "timings": {"process start, imports, slot": 2.1, "dataset, Auto, split": 0.02, "picture cache": 0.4,
                        "training": 50.2, "export and check": 0.6}, "usage": {"parameters": 1170000,
                                                                              "pictures_per_second": 112.0},
            "kind": "run", "members": [], "study": "", "name": "", "stopped": "learned"}


def write_v1_folder(root: Path, people: int) -> list[str]:
    """A version-1 data folder: every table in one nocode.json, as the app wrote it before."""
    users, datasets, runs = {}, {}, {}
    owners = [f"u_{p:014x}" for p in range(people)]
    for p, owner in enumerate(owners):
        users[str(p + 1)] = {"id": owner, "username": f"person{p}", "key": f"person{p}", "role": "user",
                             "hash": "$argon2id$v=19$m=65536,t=3,p=4$" + "x" * 70, "created": 1.0,
                             "disabled": False, "stamp": "0123456789abcdef", "failures": []}
        for d in range(DATASETS_PER_PERSON):
            datasets[str(len(datasets) + 1)] = {"id": f"ds_{owner[2:]}{d:08x}", "owner": owner, "name": f"Dataset {d}",
                                                "key": f"dataset {d}", "classes": ["a", "b"],
                                                "counts": {"a": 50, "b": 50}, "version": 3, "created": 1.0,
                                                "updated": 2.0}
        for k in range(RUNS_PER_PERSON):
            runs[str(len(runs) + 1)] = run_doc(owner, k, 1000.0 + p * RUNS_PER_PERSON + k)
    root.mkdir(parents=True)
    (root / "nocode.json").write_text(json.dumps({"users": users, "datasets": datasets, "runs": runs,
                                                  "meta": {"1": {"id": "schema", "version": 1}}}))
    return owners


def best(fn, repeat: int = 20) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def migrate(root: Path, people: int) -> float:
    """Write the version-1 folder and open it (the migration), in a process of its own: seconds."""
    from nocode_widgets.workspace import Workspace

    write_v1_folder(root, people)
    start = time.perf_counter()
    Workspace.open(root)  # migrates the one file into per-person files
    return time.perf_counter() - start


def measure(root: Path, people: int) -> dict:
    """In a fresh process, as a page's kernel: the operations a page and a worker do."""
    from nocode_widgets.accounts import auth
    from nocode_widgets.store import Table
    from nocode_widgets.runs.records import EVERYONE_PAGE, newest_runs
    from nocode_widgets.workspace import Workspace

    ws = Workspace.open(root)
    owners = [f"u_{p:014x}" for p in range(people)]
    me = owners[people // 2]
    mine = [d["id"] for d in ws.store.find(Table.RUNS, owner=me)]
    ws.store.find(Table.RUNS, owner=owners[0])  # a page has read before
    return {
        "runs": people * RUNS_PER_PERSON, "people": people,
        "a person's runs": best(lambda i: ws.store.find(Table.RUNS, owner=me)),
        "one run": best(lambda i: ws.store.get(Table.RUNS, mine[i % len(mine)])),
        "a status update": best(lambda i: ws.store.update(Table.RUNS, mine[i % len(mine)], {"epochs_run": 10 + i})),
        "sign-in lookup": best(lambda i: auth.find_user(ws, f"person{(i * 7) % people}")),
        "admin: all runs": best(lambda i: newest_runs(ws, EVERYONE_PAGE)),
    }


def _writer(root: str, owner: str, ids: list[str], barrier) -> None:
    from nocode_widgets.store import Store, Table

    store = Store(Path(root) / "nocode.json")
    barrier.wait()
    for i in range(WRITES):
        store.update(Table.RUNS, ids[i % len(ids)], {"epochs_run": i})


def writers(root: Path, owners: list[str]) -> float:
    """Seconds for 8 processes each doing WRITES status updates, each for the given person."""
    from nocode_widgets.store import Store, Table

    store = Store(root / "nocode.json")
    ids = {o: [d["id"] for d in store.find(Table.RUNS, owner=o)] for o in set(owners)}
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(owners) + 1)
    procs = [ctx.Process(target=_writer, args=(str(root), o, ids[o], barrier)) for o in owners]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    for p in procs:
        p.join()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="300,3000,30000", help="runs in the store (30 per person)")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    rows, base = [], None
    ops = ["a person's runs", "one run", "a status update", "sign-in lookup", "admin: all runs"]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            people = size // RUNS_PER_PERSON
            folder = Path(tmp) / f"s{size}"
            # each size in a fresh process: no file of another size parsed in memory
            ctx = mp.get_context("spawn")
            with ctx.Pool(1) as pool:
                seconds = pool.apply(migrate, (folder, people))
            with ctx.Pool(1) as pool:
                m = {**pool.apply(measure, (folder, people)), "migration (s)": seconds}
            base = base or m
            rows.append({"runs": size, "people": people, **{op: f"{m[op]:.2f} ms ({m[op] / base[op]:.2f}x)"
                                                           for op in ops},
                         "migration": f"{m['migration (s)']:.1f} s"})
            if size == sizes[-1]:
                owners = [f"u_{p:014x}" for p in range(8)]
                apart = writers(folder, owners)
                together = writers(folder, [owners[0]] * 8)
    print(f"Store operations as history grows ({RUNS_PER_PERSON} runs and {DATASETS_PER_PERSON} datasets a person; "
          "best of 20; ratio to the first size)")
    print(table(rows, ["runs", "people", *ops, "migration"]))
    print(f"\n8 processes x {WRITES} status updates at {sizes[-1]:,} runs: for 8 different people {apart:.2f} s, "
          f"for one person (one lock, the baseline) {together:.2f} s: {apart / together:.2f}x")


if __name__ == "__main__":
    main()
