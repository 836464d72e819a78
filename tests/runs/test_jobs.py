"""The run service with real detached worker processes."""

import json
import os
import signal
import subprocess
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import NotFound
from nocode_widgets.predict.onnx import open_predictor
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import read_history, run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import picture
from tests.training_helpers import colour_dataset

LONG = {"image_size": 32, "epochs": 300, "patience": 300, "batch_size": 4}
SHORT = {"image_size": 32, "epochs": 3, "patience": 3, "batch_size": 8}


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def final(ws, user, run_id, timeout=180):
    return wait_for(lambda: (r := jobs.get(ws, user, run_id)).status in ("done", "failed", "cancelled", "interrupted")
                    and r, timeout, "the run to end")


def test_run_keeps_training_after_the_submitting_process_exits(ws, alice):
    colour_dataset(ws, alice)
    env = cli_env(ws.settings.data_dir)
    out = subprocess.run([*NOCODE, "train", "--user", "alice", "--dataset", "colours", "--epochs", "3",
                          "--image-size", "32", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run_id = json.loads(out.stdout)["run_id"]
    assert jobs.get(ws, alice, run_id).status in ("queued", "running")  # the submitter is gone, the run is not
    done = final(ws, alice, run_id)
    assert done.status == "done" and done.epochs_run >= 1 and done.metrics["val_accuracy"] > 0


@pytest.mark.slow
def test_progress_is_visible_from_another_process(ws, alice):
    ds = colour_dataset(ws, alice)
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 1, what="the first epoch")
    env = cli_env(ws.settings.data_dir)
    shown = json.loads(subprocess.run([*NOCODE, "runs", "show", run.id, "--json"], env=env, capture_output=True,
                                      text=True, timeout=60).stdout)
    assert shown["status"] == "running" and shown["epoch"] >= 1 and shown["epochs"] == 300
    seen = []
    for p in jobs.follow(ws, alice, run.id, interval=0.1, timeout=30):
        seen.append(p.epoch)
        if len(seen) >= 3:
            break
    assert seen == sorted(seen) and seen[-1] >= seen[0]
    jobs.cancel(ws, alice, run.id)
    final(ws, alice, run.id)


def test_cancel_ends_cancelled_with_usable_weights(ws, alice):
    ds = colour_dataset(ws, alice)
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 2, what="two epochs")
    assert jobs.cancel(ws, alice, run.id).status in ("running", "cancelled")
    done = final(ws, alice, run.id, timeout=60)
    assert done.status == "cancelled" and done.usable and done.epochs_run < 300
    assert open_predictor(run_folder(ws, done)).predict([("x.jpg", picture())])[0].label in ds.classes


def test_cancel_of_a_queued_run_is_immediate(ws, alice):
    ds = colour_dataset(ws, alice)
    first = jobs.submit(ws, alice, ds.id, LONG)
    second = jobs.submit(ws, alice, ds.id, SHORT)
    assert jobs.cancel(ws, alice, second.id).status == "cancelled"
    jobs.cancel(ws, alice, first.id)
    assert final(ws, alice, first.id).status == "cancelled"
    assert jobs.get(ws, alice, second.id).epochs_run == 0


def test_sigkill_of_the_worker_makes_the_run_interrupted_and_keeps_its_best_epoch(ws, alice):
    ds = colour_dataset(ws, alice)
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 2, what="two epochs")
    pid = jobs.get(ws, alice, run.id).pid
    os.kill(pid, signal.SIGKILL)
    done = final(ws, alice, run.id, timeout=30)
    assert done.status == "interrupted" and "stopped unexpectedly" in done.error
    assert done.usable and open_predictor(run_folder(ws, done)).classes == list(ds.classes)


@pytest.mark.slow
def test_three_runs_with_a_limit_of_one_run_one_after_another_in_order(ws, alice):
    ds = colour_dataset(ws, alice)
    ids = [jobs.submit(ws, alice, ds.id, SHORT).id for _ in range(3)]
    runs = [final(ws, alice, i, timeout=240) for i in ids]
    assert [r.status for r in runs] == ["done"] * 3
    for earlier, later in zip(runs, runs[1:]):
        assert later.started >= earlier.finished - 0.5  # never two at once (0.5 s: the worker's own clean-up)
    assert [r.started for r in runs] == sorted(r.started for r in runs)


@pytest.mark.slow
def test_damaged_picture_cache_fails_the_run_with_its_reason_then_recovers(ws, alice):
    ds = colour_dataset(ws, alice)
    assert final(ws, alice, jobs.submit(ws, alice, ds.id, SHORT).id).status == "done"
    from nocode_widgets.datasets import dataset_folder

    caches = list((dataset_folder(ws, ds) / "cache").glob("*.npy"))
    assert len(caches) == 1
    caches[0].write_bytes(caches[0].read_bytes()[:1000])  # cut short
    failed = final(ws, alice, jobs.submit(ws, alice, ds.id, SHORT).id)
    assert failed.status == "failed" and "damaged" in failed.error
    assert final(ws, alice, jobs.submit(ws, alice, ds.id, SHORT).id).status == "done"


def test_another_user_cannot_see_or_cancel_a_run(ws, alice, bob):
    ds = colour_dataset(ws, bob)
    run = jobs.submit(ws, bob, ds.id, SHORT)
    carol = auth.sign_up(ws, "carol", "password123")
    with pytest.raises(NotFound):
        jobs.get(ws, carol, run.id)
    with pytest.raises(NotFound):
        jobs.cancel(ws, carol, run.id)
    assert [r.id for r in jobs.runs(ws, carol)] == []
    assert [r.id for r in jobs.runs(ws, alice, everyone=True)] == [run.id]  # alice is the admin
    assert final(ws, bob, run.id).status == "done"


def test_submit_refuses_a_dataset_that_cannot_train(ws, alice):
    from nocode_widgets import datasets as D
    from nocode_widgets.errors import TrainingError

    ds = D.create_dataset(ws, alice, "empty", ["a", "b"])
    with pytest.raises(TrainingError, match="two classes"):
        jobs.submit(ws, alice, ds.id, SHORT)


def test_an_account_deleted_as_its_run_finishes_gets_no_files_back(ws, alice, bob):
    from nocode_widgets.training.engine import LocalFitter, execute_run
    from nocode_widgets.runs.records import create_run

    class DeletesTheOwnerOnceFitted(LocalFitter):  # the moment between training and recording
        def fit(self, job, emit, should_stop):
            out = super().fit(job, emit, should_stop)
            auth.delete_account(ws, alice, bob.id)
            return out

    run = create_run(ws, bob, colour_dataset(ws, bob), SHORT)
    assert execute_run(ws, run.id, fitter=DeletesTheOwnerOnceFitted()).id == run.id
    assert not ws.settings.user_dir(bob.id).exists()


@pytest.mark.slow
def test_deleting_the_account_stops_its_training_and_leaves_no_files(ws, alice, bob):
    ds = colour_dataset(ws, bob)
    run = jobs.submit(ws, bob, ds.id, LONG)
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 1, what="the first epoch")
    pid = jobs.get(ws, bob, run.id).pid
    auth.delete_account(ws, alice, bob.id)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or b"Z" in open(f"/proc/{pid}/stat", "rb").read().split(b")")[1][:3],
             timeout=60, what="the worker to stop")
    assert not ws.settings.user_dir(bob.id).exists()
