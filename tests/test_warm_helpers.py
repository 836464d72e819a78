"""Helpers that stay warm (`warm_pool`, with NOCODE_WARM_START): heat maps, estimates and label checks run in
the helper of the slot the caller holds, which keeps the run's model loaded for the next picture, survives a job
that fails, is killed with a job that runs too long, ends a job whose page was closed, and is replaced when it died;
a new warm process can start while helpers it forked still run. No process outlives the test."""

import json
import os
import signal
import socket
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import NocodeError
from nocode_widgets.insight import label_check
from nocode_widgets.insight.explain import explain
from nocode_widgets.runs.plan import estimate
from nocode_widgets.slots import helper_slot, run_job
from nocode_widgets.warm_pool import marked_pid, start_warm, stop_warm
from tests.conftest import make_workspace
from tests.images import COLORS, picture
from tests.training_helpers import colour_dataset, train

pytestmark = pytest.mark.slow


def of_this_folder(ws) -> list[int]:
    """Processes other than this one with this data folder in their environment (warm process, helpers)."""
    mine = b"NOCODE_DATA_DIR=" + str(ws.settings.data_dir).encode() + b"\0"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if int(pid) != os.getpid() and mine in open(f"/proc/{pid}/environ", "rb").read():
                state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(pid))
        except OSError:
            continue
    return found


def helper_pid(ws, slot: int = 0) -> int | None:
    return marked_pid(ws.settings.data_dir / "slots" / f"helper-{slot}.pid")


def loads(ws) -> list[str]:
    log = ws.settings.data_dir / "slots" / "helpers.log"
    return [line for line in log.read_text().splitlines() if line.startswith("loaded gradcam")] if log.exists() else []


def wait_until(condition, timeout=60.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "gave up waiting"
        time.sleep(0.1)


@pytest.fixture
def warm(tmp_path):
    ws = make_workspace(tmp_path / "data", warm_start=True, warm_idle_s=60.0, helper_idle_s=60.0)
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=8)
    run = train(ws, alice, ds)
    yield ws, alice, ds, run
    stop_warm(ws.settings)
    wait_until(lambda: not of_this_folder(ws), timeout=20)


def test_heat_maps_and_estimates_reuse_one_warm_helper_that_keeps_the_model(warm):
    ws, alice, ds, run = warm
    first = explain(ws, alice, run.id, [("a.jpg", picture(COLORS["red"], size=(40, 30), seed=1))])
    assert first[0].png and not first[0].error
    helper = helper_pid(ws)
    assert helper and os.getsid(helper) == helper  # its own session, apart from this process
    second = explain(ws, alice, run.id, [("b.jpg", picture(COLORS["blue"], size=(40, 30), seed=2))])
    assert second[0].png and second[0].label == "blue"
    assert helper_pid(ws) == helper and len(loads(ws)) == 1  # the same process, the model loaded once
    guess = estimate(ws, alice, ds.id, {"image_size": 32, "epochs": 3})
    assert guess.seconds_per_epoch > 0 and helper_pid(ws) == helper

    with helper_slot(ws, alice.id) as slot:  # a job that fails says why and leaves the helper serving
        with pytest.raises(NocodeError, match="could not be made"):
            run_job(ws, slot, "nocode_widgets.insight.gradcam", {"folder": str(ws.settings.data_dir / "nowhere"),
                                                                   "pictures": []},
                    lambda state: None, 60, "too long", "The heat maps could not be made")
    assert helper_pid(ws) == helper

    os.kill(helper, signal.SIGKILL)  # a helper that died is replaced on the next job
    wait_until(lambda: helper_pid(ws) is None)
    third = explain(ws, alice, run.id, [("c.jpg", picture(COLORS["green"], size=(40, 30), seed=3))])
    assert third[0].png and helper_pid(ws) not in (None, helper)
    assert len(loads(ws)) == 2


def test_a_job_past_its_time_has_its_helper_killed_and_the_next_job_gets_a_new_one(warm, monkeypatch):
    ws, alice, ds, run = warm
    estimate(ws, alice, ds.id, {"image_size": 32, "epochs": 3})  # the helper is up
    helper = helper_pid(ws)
    monkeypatch.setattr(label_check, "TIMEOUT_S", 0.01)  # K short trainings take seconds
    with pytest.raises(NocodeError, match="took too long"):
        label_check.check_labels(ws, alice, ds.id, folds=3)
    wait_until(lambda: helper_pid(ws) != helper)
    again = explain(ws, alice, run.id, [("a.jpg", picture(COLORS["red"], size=(40, 30), seed=1))])
    assert again[0].png and helper_pid(ws) not in (None, helper)


def warm_pid(ws) -> int | None:
    """The warm process once it serves (its mark is written before its imports, its socket after them)."""
    folder = ws.settings.data_dir / "slots"
    return marked_pid(folder / "warm.pid") if (folder / "warm.sock").exists() else None


def test_a_closed_page_ends_its_job_and_a_new_warm_process_starts_beside_forked_helpers(warm):
    ws, alice, ds, run = warm
    estimate(ws, alice, ds.id, {"image_size": 32, "epochs": 3})  # the warm process comes up; the helper is cold
    wait_until(lambda: warm_pid(ws) is not None)
    os.kill(helper_pid(ws), signal.SIGKILL)
    wait_until(lambda: helper_pid(ws) is None)
    estimate(ws, alice, ds.id, {"image_size": 32, "epochs": 3})  # a new helper, forked by the warm process
    helper, first_warm = helper_pid(ws), warm_pid(ws)
    assert parent_of(helper) == first_warm

    os.kill(first_warm, signal.SIGKILL)  # its forked helper goes on and must not keep the warm process's lock
    wait_until(lambda: not process_alive(first_warm))
    start_warm(ws.settings)
    wait_until(lambda: warm_pid(ws) not in (None, first_warm))
    assert process_alive(helper)

    # A page that asks for a label check and is closed at once (its kernel gone): the helper ends the job
    with helper_slot(ws, alice.id) as slot:
        job = ws.settings.data_dir / "tmp" / "job.json"
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(json.dumps({"user": alice.id, "dataset": ds.id, "folds": 3, "save_to": str(job) + ".saved",
                                   "out": str(job) + ".out", "progress": str(job) + ".progress",
                                   "max_side": 512, "max_pixels": 50_000_000}))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(ws.settings.data_dir / "slots" / f"helper-{slot}.sock"))
            conn.sendall((json.dumps({"module": "nocode_widgets.training.label_folds", "job": str(job),
                                      "timeout_s": 600, "settings": ws.settings.to_env()}) + "\n").encode())
            assert json.loads(conn.makefile("r").readline())["pid"] == helper
    wait_until(lambda: not process_alive(helper), timeout=10)  # it noticed the caller had gone
    assert not (ws.settings.data_dir / "tmp" / "job.json.out").exists()
    guess = estimate(ws, alice, ds.id, {"image_size": 32, "epochs": 3})  # and the next person is served
    assert guess.seconds_per_epoch > 0 and helper_pid(ws) not in (None, helper)


def parent_of(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def process_alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
