"""Test-time augmentation's effect (the picture and its mirror image, probabilities averaged): validation
accuracy and milliseconds per picture without and with it, for an Auto run on generated shapes (mirroring
keeps their class) and on scikit-learn's digits (mirroring does not: a mirrored 2 is no 2), each scored on
the run's own validation pictures through the app's ONNX predictor.

    pip install scikit-learn   # for the digits; not a dependency of the app
    python benchmarks/bench_tta.py
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks._data import digits_zip, shapes_zip  # noqa: E402


def main() -> None:
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.config import Settings
    from nocode_widgets.predict.onnx import open_predictor
    from nocode_widgets.training.engine import execute_run
    from nocode_widgets.runs.records import create_run, run_folder
    from nocode_widgets.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-tta-"))
    ws = Workspace.open(settings=Settings(data_dir=tmp, argon2_time_cost=1, argon2_memory_kib=1024,
                                          allow_weight_download=False))
    user = auth.sign_up(ws, "bench", "password123")
    rows = []
    for name, data in (("shapes-360", shapes_zip(120, 96)), ("digits", digits_zip())):
        report = D.import_archive(ws, user, io.BytesIO(data), name=name)
        ds = D.get_dataset(ws, user, report.dataset_id)
        run = execute_run(ws, create_run(ws, user, ds, {}).id)
        folder, ds_folder = run_folder(ws, run), D.dataset_folder(ws, ds)
        by_hash = {e.hash: e for e in D.read_manifest(ds_folder)}
        val = [by_hash[h] for h in json.loads((folder / "split.json").read_text())["val"]]
        pictures = [(e.file, (ds_folder / e.file).read_bytes()) for e in val]
        predictor = open_predictor(folder)
        row = {"dataset": name, "val pictures": len(val)}
        for tta in (False, True):
            start = time.perf_counter()
            results = predictor.predict(pictures, tta=tta)
            ms = 1000 * (time.perf_counter() - start) / len(pictures)
            accuracy = sum(r.label == e.label for r, e in zip(results, val)) / len(val)
            key = "with mirror" if tta else "plain"
            row[f"acc {key}"], row[f"ms/pic {key}"] = accuracy, ms
        row["acc diff (pts)"] = 100 * (row["acc with mirror"] - row["acc plain"])
        row["time ratio"] = row["ms/pic with mirror"] / row["ms/pic plain"]
        rows.append(row)
    print(f"Machine: {machine()}\n")
    print(table(rows, ["dataset", "val pictures", "acc plain", "acc with mirror", "acc diff (pts)", "ms/pic plain",
                       "ms/pic with mirror", "time ratio"]))


if __name__ == "__main__":
    main()
