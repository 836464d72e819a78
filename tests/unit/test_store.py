import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

from nocode_widgets import auth
from nocode_widgets.errors import AuthError
from nocode_widgets.store import SCHEMA_VERSION, Store, Table, new_id
from tests.conftest import make_workspace


def test_new_store_records_schema_version(tmp_path):
    store = Store(tmp_path / "db.json")
    assert store.get(Table.META, "schema") == {"id": "schema", "version": SCHEMA_VERSION}


def test_insert_get_update_find_remove(tmp_path):
    store = Store(tmp_path / "db.json")
    store.insert(Table.RUNS, {"id": "r1", "owner": "u1", "status": "queued"})
    store.insert(Table.RUNS, {"id": "r2", "owner": "u2", "status": "queued"})
    assert store.update(Table.RUNS, "r1", {"status": "done"})
    assert store.get(Table.RUNS, "r1")["status"] == "done"
    assert [d["id"] for d in store.find(Table.RUNS, owner="u2")] == ["r2"]
    assert store.remove(Table.RUNS, "r2")
    assert store.get(Table.RUNS, "r2") is None
    assert not store.update(Table.RUNS, "missing", {"x": 1})


def test_returned_documents_are_copies(tmp_path):
    store = Store(tmp_path / "db.json")
    store.insert(Table.DATASETS, {"id": "d1", "name": "pets"})
    doc = store.get(Table.DATASETS, "d1")
    doc["name"] = "changed"
    assert store.get(Table.DATASETS, "d1")["name"] == "pets"


def test_transaction_that_raises_writes_nothing(tmp_path):
    store = Store(tmp_path / "db.json")
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert(Table.RUNS, {"id": "r1"})
            tx.insert(Table.RUNS, {"id": "r2"})
            raise RuntimeError("boom")
    assert store.find(Table.RUNS) == []


def test_snapshot_cannot_write(tmp_path):
    store = Store(tmp_path / "db.json")
    with pytest.raises(RuntimeError):
        with store.snapshot() as tx:
            tx.insert(Table.RUNS, {"id": "r1"})


def test_ids_are_random_and_prefixed():
    ids = {new_id("ds") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("ds_") and len(i) == 19 for i in ids)


def _create_many(data_dir, worker, count, barrier, results):
    ws = make_workspace(data_dir)
    barrier.wait()
    made = 0
    for i in range(count):
        auth.sign_up(ws, f"w{worker}-user{i}", "password123")
        ws.store.insert(Table.RUNS, {"id": new_id("run"), "owner": f"w{worker}", "n": i})
        made += 1
    results.put(made)


def test_eight_processes_writing_at_once_lose_nothing(tmp_path):
    data_dir = tmp_path / "data"
    make_workspace(data_dir)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_create_many, args=(data_dir, w, 25, barrier, results)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert sum(results.get() for _ in procs) == 200
    raw = json.loads((data_dir / "nocode.json").read_text())
    users = list(raw["users"].values())
    assert len(users) == 200 and len(raw["runs"]) == 200
    assert len({u["key"] for u in users}) == 200


def _race_for_name(data_dir, barrier, results):
    ws = make_workspace(data_dir)
    barrier.wait()
    try:
        auth.sign_up(ws, "Contested", "password123")
        results.put("won")
    except AuthError:
        results.put("taken")


def test_two_processes_racing_for_one_name_get_one_account(tmp_path):
    data_dir = tmp_path / "data"
    make_workspace(data_dir)
    ctx = mp.get_context("fork")
    for _ in range(5):
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_race_for_name, args=(data_dir, barrier, results)) for _ in range(4)]
        [p.start() for p in procs]
        [p.join(60) for p in procs]
        outcomes = sorted(results.get() for _ in procs)
        store = make_workspace(data_dir).store
        assert len(store.find(Table.USERS, key="contested")) == 1
        assert outcomes.count("won") <= 1
        store.remove(Table.USERS, store.find(Table.USERS, key="contested")[0]["id"])


WRITER = """
import sys
from nocode_widgets.store import Store, Table
store = Store(sys.argv[1])
i = 0
while True:
    store.insert(Table.RUNS, {"id": f"r{i}", "payload": "x" * 2000})
    print(i, flush=True)
    i += 1
"""


def test_sigkill_mid_write_leaves_a_readable_store_with_every_returned_write(tmp_path):
    db = tmp_path / "db.json"
    Store(db)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    confirmed = []
    deadline = time.time() + 60
    while len(confirmed) < 150 and time.time() < deadline:
        confirmed.append(int(proc.stdout.readline()))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(confirmed) >= 150
    store = Store(db)  # opens: the file is valid JSON
    ids = {d["id"] for d in store.find(Table.RUNS)}
    assert {f"r{i}" for i in confirmed} <= ids


def test_a_lock_held_by_a_stopped_process_gives_a_plain_busy_error_not_a_hang(tmp_path):
    from nocode_widgets.errors import StoreBusy

    store = Store(tmp_path / "db.json", lock_timeout=0.5)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(tmp_path / "db.json.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy, match="busy"):
            store.insert(Table.USERS, {"id": "u1"})
        assert store.get(Table.USERS, "u1") is None  # reads do not wait
    finally:
        holder.kill()
        holder.wait()
    store.insert(Table.USERS, {"id": "u1"})
    assert store.get(Table.USERS, "u1") == {"id": "u1"}
