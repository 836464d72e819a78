"""Helpers that stay warm (`warm_pool`, with NOCODE_WARM_START): heat maps, estimates and label checks run in
the helper of the slot the caller holds, which keeps the run's model loaded for the next picture, survives a job
that fails, is killed with a job that runs too long and is replaced when it died. No process outlives the test."""

import json
import os
import signal
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import NocodeError
from nocode_widgets.insight import label_check
from nocode_widgets.insight.explain import explain
from nocode_widgets.runs.plan import estimate
from nocode_widgets.slots import helper_slot, run_job
from nocode_widgets.warm_pool import started_at, stop_warm
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
    path = ws.settings.data_dir / "slots" / f"helper-{slot}.pid"
    mark = json.loads(path.read_text()) if path.exists() else {}
    return mark.get("pid") if mark.get("pid") and started_at(mark["pid"]) == mark.get("start") else None


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
