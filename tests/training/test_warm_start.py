"""The warm start (`NOCODE_WARM_START`): a run's worker forked from the data folder's warm process trains like
a cold one (its ONNX export checked too: the warm process started the exporter before forking), is followed
and recognised as alive by its pid and start time, and when the warm process dies the next run starts cold and a
new warm process comes up. Opening the Train panel starts the warm process ahead of a first run, once, and only
with the warm start on. No process outlives the test."""

import os
import signal
import time

import pytest

from nocode_widgets.files import read_json
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import run_folder
from nocode_widgets.runs.runner import started_at
from tests.conftest import make_workspace
from tests.processes import processes
from tests.training_helpers import TINY, colour_dataset

pytestmark = pytest.mark.slow


def warm_pids(ws) -> list[int]:
    """The warm processes of this data folder."""
    mine = b"NOCODE_DATA_DIR=" + str(ws.settings.data_dir).encode() + b"\0"
    found = []
    for pid, _, cmdline in processes():
        try:
            if b"nocode_widgets.training.warm" in cmdline and mine in open(f"/proc/{pid}/environ", "rb").read():
                found.append(pid)
        except OSError:
            continue
    return found


def parent_of(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def wait_until(condition, timeout=90.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "gave up waiting"
        time.sleep(0.2)


def finished(ws, user, run_id):
    for _ in jobs.follow(ws, user, run_id, interval=0.3, timeout=300):
        pass
    return jobs.get(ws, user, run_id)


@pytest.fixture
def warm_ws(tmp_path):
    ws = make_workspace(tmp_path / "data", warm_start=True, warm_idle_s=600.0)  # ended by the test
    yield ws
    for pid in warm_pids(ws):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not warm_pids(ws), timeout=20)


def test_a_run_forked_warm_trains_and_a_dead_warm_process_falls_back_to_cold(warm_ws):
    from nocode_widgets.accounts import auth

    ws = warm_ws
    user = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, user, classes=("red", "blue"), per_class=6)
    first = jobs.submit(ws, user, ds.id, TINY)  # no warm process yet: cold, and one starts for the next
    assert finished(ws, user, first.id).status == "done"
    wait_until(lambda: (ws.settings.data_dir / "slots" / "warm.sock").exists())
    (warm,) = warm_pids(ws)

    second = jobs.submit(ws, user, ds.id, TINY)
    run = jobs.get(ws, user, second.id)
    assert run.pid_start == started_at(run.pid) and parent_of(run.pid) == warm  # forked by the warm process
    assert os.getsid(run.pid) == run.pid  # in a session of its own: killable as a group, outlives the server
    done = finished(ws, user, second.id)
    assert done.status == "done" and done.metrics["val_accuracy"] >= 0.5
    export = read_json(run_folder(ws, done) / "export.json")  # after the exporter's warm-up in the warm process
    assert export["ok"] and export["total"] > 0
    assert "Traceback" not in (ws.settings.data_dir / "slots" / "warm.log").read_text()  # the warm-up went through

    os.kill(warm, signal.SIGKILL)  # the warm process dies: the next run starts cold, a new warm one comes up
    wait_until(lambda: not warm_pids(ws))
    third = jobs.submit(ws, user, ds.id, TINY)
    assert finished(ws, user, third.id).status == "done"
    wait_until(lambda: len(warm_pids(ws)) == 1)


def test_opening_the_train_panel_starts_the_warm_process_once_and_only_with_the_warm_start_on(warm_ws, tmp_path):
    from nocode_widgets.accounts import auth
    from nocode_widgets.ui import TrainPanel

    user = auth.sign_up(warm_ws, "alice", "password-alice")
    panel = TrainPanel(warm_ws, user)  # the panel shows: someone is about to train
    wait_until(lambda: len(warm_pids(warm_ws)) == 1)
    (warm,) = warm_pids(warm_ws)
    for _ in range(3):  # while it imports torch and after: no second one is started
        panel.refresh()
        time.sleep(0.5)
    wait_until(lambda: (warm_ws.settings.data_dir / "slots" / "warm.sock").exists())
    assert warm_pids(warm_ws) == [warm]
    panel.close()

    cold = make_workspace(tmp_path / "cold", warm_start=False)  # JupyterLab, Colab, the CLI: off
    TrainPanel(cold, auth.sign_up(cold, "bob", "password-bob")).close()
    time.sleep(2)
    assert not warm_pids(cold) and not (cold.settings.data_dir / "slots" / "warm.pid").exists()
