"""Runs that fit on a real local Ray cluster (NOCODE_RUNNER=ray): the same files as a local run, live
progress read from another process, cancel, a killed Ray worker, a submitter that exits, fair order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import TrainingError
from nocode_widgets.runs import jobs
from nocode_widgets.training.engine import execute_run
from nocode_widgets.runs.records import create_run, load_run, read_history, run_folder
from tests.conftest import NOCODE, cli_env, make_workspace
from tests.training_helpers import colour_dataset
from tests.runs.test_jobs import final, wait_for

pytestmark = pytest.mark.slow

SMALL = {"image_size": 32, "epochs": 3, "patience": 3, "batch_size": 8, "arch": "small_cnn"}
LONG = {"image_size": 32, "epochs": 300, "patience": 300, "batch_size": 4, "arch": "small_cnn"}


@pytest.fixture
def on_ray(tmp_path, ray_cluster):
    """A workspace whose runs fit on the test cluster, and alice with a small dataset."""
    ws = make_workspace(tmp_path / "data", runner="ray", ray_address=ray_cluster)
    alice = auth.sign_up(ws, "alice", "password-alice")
    return ws, alice, colour_dataset(ws, alice, per_class=8)


def files(folder) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name not in ("worker.log", "cancel")}


def test_a_run_submitted_by_a_command_that_exits_fits_on_ray_with_live_progress_and_a_local_runs_files(
        on_ray, ray_cluster):
    ws, alice, ds = on_ray
    env = cli_env(ws.settings.data_dir, NOCODE_RUNNER="ray", NOCODE_RAY_ADDRESS=ray_cluster)
    out = subprocess.run([*NOCODE, "train", "--user", "alice", "--dataset", ds.name, "--json",
                          *(f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items() if k != "epochs"), "--epochs=4"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run_id = json.loads(out.stdout)["run_id"]  # the submitter has exited; the run goes on, followed from here
    seen = [(p.run.status, len(p.history)) for p in jobs.follow(ws, alice, run_id, interval=0.1, timeout=180)]
    done = load_run(ws, run_id)
    assert done.status == "done", done.error
    assert ("running", 1) in seen or ("running", 2) in seen  # epochs seen here while the run still trained
    assert done.remote["pid"] != done.pid and done.remote["num_cpus"] == 2  # fitted in a Ray worker, not here
    assert done.epochs_run >= 1 and 0 <= done.metrics["val_accuracy"] <= 1 and done.export["ok"]
    assert "hand-over to the fitter" in done.timings and "training" in done.timings

    # the same data with the local runner, in this process, once the Ray run's worker is gone (on its way out it
    # moves the queue, which would take a run trained here, by no worker process, for one whose worker vanished)
    wait_for(lambda: not jobs.RUNNER.is_alive(done), timeout=60, what="the Ray run's worker to exit")
    local_ws = make_workspace(ws.settings.data_dir)
    local = execute_run(local_ws, create_run(local_ws, alice, ds, {**SMALL, "epochs": 4}).id)
    assert local.status == "done" and not local.remote
    assert files(run_folder(ws, done)) == files(run_folder(ws, local))
    assert len(read_history(run_folder(ws, done))) == done.epochs_run
    evaluation = json.loads((run_folder(ws, done) / "evaluation.json").read_text())
    assert all("file" in m and "picture" not in m for m in evaluation["validation"]["mistakes"])


def test_cancel_stops_a_ray_run_and_keeps_its_best_epoch(on_ray):
    ws, alice, ds = on_ray
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 2, timeout=120, what="two epochs")
    jobs.cancel(ws, alice, run.id)
    done = final(ws, alice, run.id, timeout=60)
    assert done.status == "cancelled" and done.usable and done.epochs_run < 300
    assert (run_folder(ws, done) / "weights.pt").exists() and (run_folder(ws, done) / "model.onnx").exists()


def test_a_run_whose_ray_worker_is_killed_ends_interrupted_with_its_best_epoch(on_ray):
    ws, alice, ds = on_ray
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: load_run(ws, run.id).best_epoch >= 1, timeout=120, what="a kept epoch")
    remote = load_run(ws, run.id).remote
    os.kill(remote["pid"], signal.SIGKILL)  # the Ray worker process fitting the run
    done = final(ws, alice, run.id, timeout=60)
    assert done.status == "interrupted" and "Ray worker" in done.error and done.usable
    assert (run_folder(ws, done) / "weights.pt").exists()
    wait_for(lambda: not jobs.RUNNER.is_alive(done), timeout=60, what="the app-side worker to exit too")


def test_two_users_on_one_ray_slot_keep_the_fair_order(on_ray):
    ws, alice, ds = on_ray
    bob = auth.sign_up(ws, "bob", "password-bob")
    theirs = colour_dataset(ws, bob, per_class=8)
    quick = {**SMALL, "epochs": 1, "patience": 1}
    a1 = jobs.submit(ws, alice, ds.id, quick)
    a2 = jobs.submit(ws, alice, ds.id, quick)
    b1 = jobs.submit(ws, bob, theirs.id, quick)
    runs = {name: final(ws, alice if name[0] == "a" else bob, r.id, timeout=240)
            for name, r in (("a1", a1), ("a2", a2), ("b1", b1))}
    assert all(r.status == "done" and r.remote for r in runs.values()), {k: r.error for k, r in runs.items()}
    assert runs["a1"].started < runs["b1"].started < runs["a2"].started  # bob's first before alice's second
    assert runs["a1"].finished <= runs["b1"].started  # one slot: one at a time


def test_without_ray_a_ray_workspace_says_so_plainly(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    ws = make_workspace(tmp_path / "data", runner="ray")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=2)
    with pytest.raises(TrainingError, match=r"Ray is not installed here.*nocode_widgets\[ray\]"):
        jobs.submit(ws, alice, ds.id, SMALL)
    assert jobs.runs(ws, alice) == []  # nothing queued that could never run


def test_nocode_ray_check_lists_the_cluster(ray_cluster, tmp_path):
    out = subprocess.run([*NOCODE, "ray", "check", "--address", ray_cluster, "--json"], env=cli_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    found = json.loads(out.stdout)
    assert out.returncode == 0 and found["round_trip"] and found["cpus"] == 2 and found["gpus"] == 0
    assert len(found["nodes"]) == 1


def test_an_unreachable_cluster_fails_the_run_with_a_plain_message(tmp_path):
    from tests.conftest import free_port

    ws = make_workspace(tmp_path / "data", runner="ray", ray_address=f"127.0.0.1:{free_port()}")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=2)
    started = time.time()
    done = final(ws, alice, jobs.submit(ws, alice, ds.id, SMALL).id, timeout=180)
    assert done.status == "failed" and "does not answer" in done.error, (done.error, time.time() - started)


def test_a_run_asks_ray_for_one_gpu_when_the_cluster_has_gpus_and_cpus_otherwise():
    from nocode_widgets.training.on_ray import resources

    gpus = {"nodes": [{"cpus": 8, "gpus": 2}, {"cpus": 16, "gpus": 0}], "cpus": 24, "gpus": 2}
    cpus = {"nodes": [{"cpus": 8, "gpus": 0}, {"cpus": 16, "gpus": 0}], "cpus": 24, "gpus": 0}
    assert resources(gpus, "auto") == resources(gpus, "cuda") == {"num_gpus": 1, "num_cpus": 1}
    assert resources(gpus, "cpu") == {"num_cpus": 16}  # asked for the CPU: a whole CPU machine
    assert resources(cpus, "auto") == {"num_cpus": 16} and resources(cpus, "auto", cpus_per_run=4) == {"num_cpus": 4}
    assert resources(cpus, "auto", cpus_per_run=64) == {"num_cpus": 16}  # never more than a node has
    with pytest.raises(TrainingError, match="no GPU"):
        resources(cpus, "cuda")
