"""What fitting on Ray adds to a run: the same small run (generated shapes, 3 x 30 pictures, small CNN at
32 px, 5 epochs) submitted through the local runner and through a local one-node Ray cluster
(NOCODE_RUNNER=ray), alternately, several times. Seconds from submit to the first epoch recorded on the
app host, to the run's end, and from Cancel to the run's final state. Target (issue 16): Ray adds at
most 5 s to a run.

    python benchmarks/bench_ray.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks._data import shapes_zip  # noqa: E402

CONFIG = {"arch": "small_cnn", "image_size": 32, "epochs": 5, "patience": 5, "batch_size": 16}
LONG = {**CONFIG, "epochs": 300, "patience": 300}


def one_run(ws, user, ds_id) -> dict:
    from nocode_widgets.runs import jobs
    from nocode_widgets.runs.records import read_history, run_folder

    start = time.time()
    run = jobs.submit(ws, user, ds_id, CONFIG)
    folder, first = run_folder(ws, run), None
    while (r := jobs.get(ws, user, run.id)).is_active:
        if first is None and read_history(folder):
            first = time.time() - start
        time.sleep(0.05)
    assert r.status == "done", r.error
    return {"first_epoch_s": first or (r.finished - start), "total_s": time.time() - start,
            "fit_s": r.timings.get("training", 0.0), "handover_s": r.timings.get("hand-over to the fitter", 0.0),
            "timings": r.timings}


def one_cancel(ws, user, ds_id) -> float:
    from nocode_widgets.runs import jobs
    from nocode_widgets.runs.records import read_history, run_folder

    run = jobs.submit(ws, user, ds_id, LONG)
    while not read_history(run_folder(ws, run)):
        time.sleep(0.05)
    asked = time.time()
    jobs.cancel(ws, user, run.id)
    while jobs.get(ws, user, run.id).is_active:
        time.sleep(0.05)
    return time.time() - asked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace
    from tests.ray.cluster import local_cluster

    with tempfile.TemporaryDirectory() as tmp, local_cluster(Path(tmp) / "ray.log") as address:
        base = Settings(data_dir=Path(tmp) / "data", allow_weight_download=False)
        runners = {"local": Workspace.open(settings=base),
                   "ray": Workspace.open(settings=base.with_changes(runner="ray", ray_address=address))}
        user = auth.sign_up(runners["local"], "bench", "password-bench")
        ds = D.import_archive(runners["local"], user, io.BytesIO(shapes_zip(30, size=64)), name="shapes")
        one_run(runners["ray"], user, ds.dataset_id)  # warm: the picture cache, Ray's worker pool
        figures: dict[str, list[dict]] = {name: [] for name in runners}
        for _ in range(args.repeats):
            for name, ws in runners.items():
                figures[name].append({**one_run(ws, user, ds.dataset_id), "cancel_s": one_cancel(ws, user, ds.dataset_id)})
    rows = []
    for name, runs in figures.items():
        rows.append({"runner": name, **{k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "timings"}})
    local, ray = rows
    rows.append({"runner": "Ray minus local", **{k: ray[k] - local[k] for k in local if k != "runner"}})
    print(f"Machine: {machine()}; medians of {args.repeats} runs each")
    print(table(rows, ["runner", "first_epoch_s", "total_s", "fit_s", "handover_s", "cancel_s"]))
    print(f"Ray adds {ray['total_s'] - local['total_s']:.1f} s to a run (target: at most 5 s).")
    phases = sorted({k for runs in figures.values() for k in runs[-1]["timings"]})
    print("\nWhere the seconds of the last run of each went (run.timings):")
    print(table([{"phase": p, **{n: figures[n][-1]["timings"].get(p) for n in figures}} for p in phases],
                ["phase", *figures]))


if __name__ == "__main__":
    main()
