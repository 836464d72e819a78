"""How `tests/data/store-v1/` was made: a data folder written by the app at store schema version 1 (one
`nocode.json` with every table), kept so that `tests/store/test_migrations.py` proves a folder of that version
opens in today's code with nothing lost. It was run once with the code of that version (git history: the
commit before "Store: per-person files"); it cannot be run again with today's code, which writes version 2.

What it holds: alice (administrator) with a dataset of 2 classes x 6 pictures, a trained run (small CNN,
32 px; weights.pt left out to keep the repository small: the app predicts and exports with model.onnx), a
comparison study whose runs were cancelled before training, and a remembered device; bob with a dataset of
his own. `facts.json` lists what the test expects to find."""

import io
import json
import shutil
import sys
import time
from pathlib import Path

from nocode_widgets import auth, remember
from nocode_widgets import datasets as D
from nocode_widgets import studies as S
from nocode_widgets.config import Settings
from nocode_widgets.training.engine import execute_run
from nocode_widgets.training.runs import create_run, run_folder
from nocode_widgets.workspace import Workspace
from tests.images import class_files, make_zip


class NoWorkers:
    """Queue runs without starting any worker (the study's runs are cancelled at once)."""

    def start(self, ws, run):
        pass

    def is_alive(self, run):
        return None

    def stop(self, run):
        pass


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    ws = Workspace.open(settings=Settings(data_dir=out, argon2_time_cost=1, argon2_memory_kib=1024))
    alice = auth.sign_up(ws, "alice", "password-alice", admin=True)
    bob = auth.sign_up(ws, "bob", "password-bob")
    shapes = D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(("red", "blue"), per_class=6))), name="shapes")
    D.import_archive(ws, bob, io.BytesIO(make_zip(class_files(("green", "blue"), per_class=3))), name="bobs")
    ds = D.get_dataset(ws, alice, shapes.dataset_id)
    run = execute_run(ws, create_run(ws, alice, ds, {"image_size": 32, "epochs": 3, "batch_size": 4,
                                                     "arch": "small_cnn"}).id)
    (run_folder(ws, run) / "weights.pt").unlink()
    study = S.start_study(ws, alice, ds.id, ["small_cnn", "mobilenet_v3_small"], epochs=1, runner=NoWorkers())
    S.cancel_study(ws, alice, study.id)
    created = time.time()
    token = remember.remember_device(ws, alice, clock=lambda: created)
    for lock in out.rglob("*.lock"):
        lock.unlink()
    shutil.rmtree(out / "slots", ignore_errors=True)
    (out / "facts.json").write_text(json.dumps({
        "users": ["alice", "bob"], "datasets": {"alice": ["shapes"], "bob": ["bobs"]},
        "run": run.id, "run_accuracy": run.metrics["val_accuracy"], "study": study.id,
        "device_token": token, "device_created": created}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
