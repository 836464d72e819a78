"""Does "most useful first" save labels? (issue: the labeling loop). The loop simulated with the product's own
pieces: a dataset starts with 10% of the pool labelled and the rest in its inbox; each round trains with Auto
(`execute_run`, the worker's code), measures accuracy on a fixed held-out test part no run ever sees (through
the exported model, as the Test panel does), then labels 5% more of the pool: the inbox's "most useful first"
order (`insight/suggest.py`: smallest margin, look-alikes spread), or a random order as the baseline. The
simulated person answers with the true class (`file_pictures`). Both strategies of a seed start from the same
labelled pictures and are tested on the same pictures.

    python benchmarks/bench_active.py [--sets digits,shapes] [--seeds 3] [--until 0.5]

Target: "most useful first" reaches the accuracy random order reaches at 50% labelled with at most 30%.
digits needs scikit-learn in the benchmark's environment (not a dependency of the app)."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks._data import digits_zip, shapes_zip  # noqa: E402

TEST = 0.2
START = 0.10
STEP = 0.05


def pictures_of(zip_bytes: bytes) -> list[tuple[str, bytes]]:
    """(class, bytes) of every picture in a zip of class folders."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return [(n.split("/")[0], z.read(n)) for n in sorted(z.namelist()) if not n.endswith("/")]


def stratified(labels: list[str], fraction: float, rng) -> np.ndarray:
    """Indices of a stratified `fraction` of the pictures."""
    chosen = []
    for c in sorted(set(labels)):
        members = np.flatnonzero(np.asarray(labels) == c)
        chosen += rng.choice(members, size=max(2, round(fraction * len(members))), replace=False).tolist()
    return np.asarray(sorted(chosen))


def simulate(name: str, pictures, strategy: str, seed: int, until: float) -> list[dict]:
    from nocode_widgets import datasets as D
    from nocode_widgets.accounts import auth
    from nocode_widgets.config import Settings
    from nocode_widgets.datasets.uploads import UploadedFile
    from nocode_widgets.insight.suggest import suggest
    from nocode_widgets.predict.onnx import Prediction, predictor_for
    from nocode_widgets.runs.records import create_run
    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.workspace import Workspace

    labels = [label for label, _ in pictures]
    split = np.random.default_rng(1000 + seed)  # the same test part and first labels for both strategies
    test = set(stratified(labels, TEST, split).tolist())
    pool = [i for i in range(len(pictures)) if i not in test]
    first = set(np.asarray(pool)[stratified([labels[i] for i in pool], START, split)].tolist())
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(settings=Settings(data_dir=Path(tmp) / "data", argon2_time_cost=1, argon2_memory_kib=1024,
                                              max_bytes_per_user=50 * 2**30))
        user = auth.sign_up(ws, "bench", "bench-password")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            for i in sorted(first):
                z.writestr(f"{labels[i]}/p{i}.png", pictures[i][1])
        ds = D.get_dataset(ws, user, D.import_archive(ws, user, io.BytesIO(out.getvalue()), name=name).dataset_id)
        D.add_to_inbox(ws, user, ds.id, [UploadedFile(f"p{i}.png", pictures[i][1]) for i in pool if i not in first])
        truth = {f"p{i}.png": labels[i] for i in range(len(pictures))}
        tests = [(f"t{i}", pictures[i][1]) for i in sorted(test)]
        step = round(STEP * len(pool))
        while True:
            started = time.time()
            run = execute_run(ws, create_run(ws, user, D.get_dataset(ws, user, ds.id), {}).id)  # Auto
            trained = time.time() - started
            said = predictor_for(ws, user, run.id).predict(tests)
            accuracy = float(np.mean([isinstance(r, Prediction) and r.label == labels[int(n[1:])]
                                      for (n, _), r in zip(tests, said)]))
            labelled = D.get_dataset(ws, user, ds.id).image_count
            row = {"set": name, "order": strategy, "seed": seed, "labelled %": round(100 * labelled / len(pool)),
                   "labelled": labelled, "accuracy": accuracy, "train s": trained}
            rows.append(row)
            print(row, flush=True)
            if labelled / len(pool) >= until - 1e-9:
                return rows
            started = time.time()
            if strategy == "useful":
                chosen = suggest(ws, user, ds.id, run.id, "useful").pictures[:step]
            else:
                waiting = D.inbox_pictures(ws, user, ds.id)
                chosen = [waiting[k] for k in rng.choice(len(waiting), size=min(step, len(waiting)), replace=False)]
            D.file_pictures(ws, user, ds.id, {p.id: truth[p.original] for p in chosen})
            row["choose s"] = time.time() - started


def summary(rows: list[dict], until: float) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["set"] for r in rows):
        mean = {}
        for r in rows:
            if r["set"] == name:
                mean.setdefault((r["order"], r["labelled %"]), []).append(r["accuracy"])
        mean = {k: float(np.mean(v)) for k, v in mean.items()}
        goal_at = round(100 * until)
        goal = mean.get(("random", goal_at))
        reached = sorted(p for (o, p), a in mean.items() if o == "useful" and goal is not None and a >= goal - 1e-9)
        for order in ("random", "useful"):
            for (o, p), a in sorted(mean.items()):
                if o == order:
                    out.append({"set": name, "order": order, "labelled %": p, "mean accuracy": a})
        out.append({"set": name, "order": f"useful reaches random@{goal_at}% ({goal:.3f})" if goal is not None else "-",
                    "labelled %": reached[0] if reached else None,
                    "mean accuracy": "target met (<= 30%)" if reached and reached[0] <= 30 else "target not met"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="digits,shapes")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--until", type=float, default=0.5)
    args = parser.parse_args()
    sets = {"digits": lambda: pictures_of(digits_zip(32)), "shapes": lambda: pictures_of(shapes_zip(200, size=64))}
    rows = []
    for name in args.sets.split(","):
        pictures = sets[name]()
        for seed in range(args.seeds):
            for strategy in ("useful", "random"):
                rows += simulate(name, pictures, strategy, seed, args.until)
    print(f"\nMachine: {machine()}\n")
    print(table(rows, ["set", "order", "seed", "labelled %", "labelled", "accuracy", "train s", "choose s"]))
    print()
    print(table(summary(rows, args.until), ["set", "order", "labelled %", "mean accuracy"]))


if __name__ == "__main__":
    main()
