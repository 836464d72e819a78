"""The fair, bounded run queue (issue: shared service): per-user limits, round-robin order across
users, no process for a waiting run, silent workers terminated, compare-and-set status changes."""

import os
import subprocess
import sys
import threading
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import TrainingError
from nocode_widgets.runs import jobs
from nocode_widgets.training.engine import execute_run
from nocode_widgets.runs.queue import schedule
from nocode_widgets.runs.records import create_run, load_run, read_history, run_folder, transition, update_run
from tests.conftest import at_once, make_workspace
from tests.processes import processes
from tests.training_helpers import TINY, colour_dataset
from tests.runs.test_jobs import LONG, final, wait_for


class SleeperRunner(jobs.LocalProcessRunner):
    """Starts a stand-in worker that holds its slot and never reports (it ignores SIGTERM, like a
    hung process), so the queue's own decisions can be watched without training."""

    def start(self, ws, run):
        code = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
        proc = subprocess.Popen([sys.executable, "-c", code, run.id], start_new_session=True)
        threading.Thread(target=proc.wait, daemon=True).start()
        update_run(ws, run.id, pid=proc.pid, host=os.uname().nodename)


def worker_processes(run_ids) -> int:
    return sum(1 for _, _, cmdline in processes() if any(r.encode() in cmdline for r in run_ids))


def test_twenty_clicks_on_start_queue_three_runs_and_start_one_process(ws, alice):
    ds = colour_dataset(ws, alice)
    outcomes = at_once(20, lambda: jobs.submit(ws, alice, ds.id, LONG).id)
    accepted = [o for o in outcomes if isinstance(o, str)]
    refused = [str(o) for o in outcomes if isinstance(o, TrainingError)]
    try:
        assert len(accepted) == ws.settings.max_queued_runs_per_user == 3 and len(refused) == 17
        assert "You already have 3 runs waiting or training; cancel one" in refused[0]
        assert worker_processes(accepted) <= ws.settings.max_concurrent_runs == 1
        assert sum(r.waiting for r in jobs.runs(ws, alice)) == 2  # records only, no process
    finally:
        for run_id in accepted:
            jobs.cancel(ws, alice, run_id)
    for run_id in accepted:
        final(ws, alice, run_id, timeout=60)
    wait_for(lambda: worker_processes(accepted) == 0, timeout=60, what="the workers to exit")


def test_two_users_with_three_runs_each_and_one_slot_alternate(ws, alice, bob):
    runner = SleeperRunner()
    a, b = colour_dataset(ws, alice, per_class=2), colour_dataset(ws, bob, per_class=2)
    names = {}
    for user, ds, who in ((alice, a, "A"), (alice, a, "A"), (alice, a, "A"), (bob, b, "B"), (bob, b, "B"),
                          (bob, b, "B")):
        run = jobs.submit(ws, user, ds.id, {"epochs": 1}, runner=runner)
        names[run.id] = f"{who}{sum(n.startswith(who) for n in names.values()) + 1}"
    order = []
    for _ in range(6):
        started = [r for r in jobs.runs(ws, alice, everyone=True, runner=runner) if r.launched and r.is_active]
        assert len(started) == 1  # one slot: one worker at a time, the others are records only
        run = started[0]
        assert worker_processes(names) == 1
        order.append(names[run.id])
        transition(ws, run.id, ("queued", "running"), status="done", finished=time.time())
        runner.stop(run, grace=0.2)
        schedule(ws, runner)
    assert order == ["A1", "B1", "A2", "B2", "A3", "B3"]


@pytest.mark.slow
def test_a_worker_that_goes_silent_is_killed_and_the_next_run_starts(tmp_path):
    ws = make_workspace(tmp_path / "data", heartbeat_timeout_s=1.5)
    alice = auth.sign_up(ws, "alice", "password-alice")
    runner, ds = SleeperRunner(), colour_dataset(ws, alice, per_class=2)
    stuck = jobs.submit(ws, alice, ds.id, {"epochs": 1}, runner=runner)
    waiting = jobs.submit(ws, alice, ds.id, {"epochs": 1}, runner=runner)
    pid = load_run(ws, stuck.id).pid
    assert load_run(ws, waiting.id).waiting and worker_processes([stuck.id]) == 1
    time.sleep(2)
    jobs.runs(ws, alice, runner=runner)  # any page or CLI reading the runs notices
    gone = load_run(ws, stuck.id)
    assert gone.status == "interrupted" and "stopped unexpectedly" in gone.error
    assert not os.path.exists(f"/proc/{pid}") or worker_processes([stuck.id]) == 0  # SIGTERM ignored: SIGKILLed
    assert load_run(ws, waiting.id).launched and worker_processes([waiting.id]) == 1
    runner.stop(load_run(ws, waiting.id), grace=0.2)


@pytest.mark.slow
def test_a_frozen_real_worker_is_ended_interrupted_with_its_best_epoch(ws, alice):
    impatient = make_workspace(ws.settings.data_dir, heartbeat_timeout_s=2)
    ds = colour_dataset(ws, alice)
    run = jobs.submit(ws, alice, ds.id, LONG)
    wait_for(lambda: load_run(ws, run.id).best_epoch >= 1, what="the first epoch recorded")
    pid = load_run(ws, run.id).pid
    os.kill(pid, 19)  # SIGSTOP: alive, holding its slot, silent
    time.sleep(7)  # past the heartbeat timeout and the reporter's 5 s beat
    done = wait_for(lambda: (r := jobs.get(impatient, alice, run.id)).status != "running" and r, timeout=30)
    assert done.status == "interrupted" and done.usable
    wait_for(lambda: worker_processes([run.id]) == 0, timeout=15, what="the frozen worker to be gone")


def test_a_run_marked_interrupted_never_flips_back_to_done(ws, alice):
    ds = colour_dataset(ws, alice)
    run = create_run(ws, alice, ds, {**TINY, "epochs": 6, "patience": 6})
    worker = threading.Thread(target=execute_run, args=(ws, run.id))
    worker.start()
    wait_for(lambda: len(read_history(run_folder(ws, run))) >= 1, what="the first epoch")
    assert transition(ws, run.id, ("running",), status="interrupted", error="marked by a reader")
    worker.join(120)
    assert load_run(ws, run.id).status == "interrupted"


def test_a_waiting_run_is_never_marked_interrupted_however_long_it_waits(tmp_path):
    ws = make_workspace(tmp_path / "data", heartbeat_timeout_s=0.5)
    alice = auth.sign_up(ws, "alice", "password-alice")
    runner, ds = SleeperRunner(), colour_dataset(ws, alice, per_class=2)
    first = jobs.submit(ws, alice, ds.id, {"epochs": 1}, runner=runner)
    update_run(ws, first.id, status="running")
    second = jobs.submit(ws, alice, ds.id, {"epochs": 1}, runner=runner)
    time.sleep(1)
    assert jobs.get(ws, alice, second.id, runner=SleeperRunner()).status in ("queued",)
    runner.stop(load_run(ws, first.id), grace=0.2)
