import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import AuthError
from nocode_widgets.store import Store, Table, new_id
from nocode_widgets.store_files import SCHEMA_VERSION
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
    store.insert(Table.DATASETS, {"id": "d1", "owner": "u1", "name": "pets"})
    doc = store.get(Table.DATASETS, "d1")
    doc["name"] = "changed"
    assert store.get(Table.DATASETS, "d1")["name"] == "pets"


def test_transaction_that_raises_writes_nothing(tmp_path):
    store = Store(tmp_path / "db.json")
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert(Table.USERS, {"id": "u1"})
            tx.insert(Table.RUNS, {"id": "r1", "owner": "u1"})
            tx.insert(Table.RUNS, {"id": "r2", "owner": "u1"})
            raise RuntimeError("boom")
    assert store.find(Table.RUNS) == [] and store.find(Table.USERS) == [] and store.owner_of("r1") is None


def test_snapshot_cannot_write(tmp_path):
    store = Store(tmp_path / "db.json")
    with pytest.raises(RuntimeError):
        with store.snapshot() as tx:
            tx.insert(Table.RUNS, {"id": "r1", "owner": "u1"})


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
    assert len(users) == 200 and len({u["key"] for u in users}) == 200
    store = make_workspace(data_dir).store
    assert len(store.find(Table.RUNS)) == 200 and all(len(store.find(Table.RUNS, owner=f"w{w}")) == 25 for w in range(8))


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
import random, sys
from nocode_widgets.store import Store, Table
store = Store(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
i = 0
while True:
    owner = f"u{rng.randrange(4)}"
    if i % 3 == 2:  # an account, a run inserted, a run's status changed (watch list)
        store.insert(Table.USERS, {"id": f"acct{sys.argv[2]}-{i}"})
    elif i % 3 == 0:
        store.insert(Table.RUNS, {"id": f"run_{sys.argv[2]}x{i:06x}", "owner": owner, "status": "queued",
                                  "payload": "x" * 2000})
    else:
        store.update(Table.RUNS, f"run_{sys.argv[2]}x{i - 1:06x}", {"status": "done"})
    print(i, flush=True)
    i += 1
"""


def test_sigkill_at_random_points_leaves_every_file_readable_and_every_acknowledged_write(tmp_path):
    """A writer for four people killed with SIGKILL at random moments, twelve times over: every file still
    parses, and every write it had acknowledged is there (through the indexes, as the app finds it)."""
    import random

    db = tmp_path / "nocode.json"
    Store(db)
    rng, acknowledged = random.Random(7), []
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(round_)], stdout=subprocess.PIPE,
                                text=True)
        wanted, seen = rng.randrange(5, 40), []
        while len(seen) < wanted:
            seen.append(int(proc.stdout.readline()))
        time.sleep(rng.random() * 0.02)  # somewhere inside a later write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        acknowledged += [(round_, i) for i in seen]
    for path in tmp_path.rglob("*.json"):
        json.loads(path.read_text())  # every file parses
    store = Store(db)
    for round_, i in acknowledged:
        if i % 3 == 2:
            assert store.get(Table.USERS, f"acct{round_}-{i}") is not None
        elif i % 3 == 0:
            assert store.get(Table.RUNS, f"run_{round_}x{i:06x}") is not None
        else:
            assert store.get(Table.RUNS, f"run_{round_}x{i - 1:06x}")["status"] == "done"
    active = {d["id"] for d in store.watched(Table.RUNS)}
    assert active == {d["id"] for d in store.find(Table.RUNS) if d["status"] == "queued"}


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


def test_two_people_write_without_waiting_for_each_other(tmp_path):
    from nocode_widgets.errors import StoreBusy

    store = Store(tmp_path / "nocode.json", lock_timeout=0.5)
    store.insert(Table.RUNS, {"id": "run_a1", "owner": "alice", "status": "done"})
    store.insert(Table.RUNS, {"id": "run_b1", "owner": "bob", "status": "done"})
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(tmp_path / "store" / "locks" / "alice.lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # alice's file is locked (a long write, say)
        assert store.update(Table.RUNS, "run_b1", {"status": "failed"})  # bob does not wait
        with store.transaction() as tx:  # nor does anyone's account
            tx.insert(Table.USERS, {"id": "carol"})
        with pytest.raises(StoreBusy):
            store.update(Table.RUNS, "run_a1", {"status": "failed"})
        assert store.get(Table.RUNS, "run_a1")["status"] == "done"  # reads do not wait
    finally:
        holder.kill()


def test_each_persons_records_are_in_their_own_file(tmp_path):
    store = Store(tmp_path / "nocode.json")
    store.insert(Table.DATASETS, {"id": "ds_01", "owner": "alice"})
    store.insert(Table.RUNS, {"id": "run_02", "owner": "alice", "status": "queued", "created": 5.0})
    store.insert(Table.RUNS, {"id": "run_03", "owner": "bob", "status": "done", "created": 7.0})
    alice = json.loads((tmp_path / "users" / "alice" / "records.json").read_text())
    assert {d["id"] for t in alice.values() for d in t.values()} == {"ds_01", "run_02"}
    assert "runs" not in json.loads((tmp_path / "nocode.json").read_text())
    assert store.owner_of("run_03") == "bob" and store.owner_of("run_99") is None
    assert [d["id"] for d in store.watched(Table.RUNS)] == ["run_02"]
    assert store.owner_summaries()["alice"] == {"datasets": 1, "runs": 1, "studies": 0, "assignments": 0, "submissions": 0,
                                                "newest_run": 5.0,
                                                "last_served": 0.0}
    store.remove(Table.RUNS, "run_03")
    assert "bob" not in store.owner_summaries() and not (tmp_path / "users" / "bob" / "records.json").exists()


def test_an_unchanged_file_is_not_parsed_again(tmp_path, monkeypatch):
    import nocode_widgets.store_files as S

    store = Store(tmp_path / "nocode.json")
    store.insert(Table.RUNS, {"id": "run_01", "owner": "alice", "status": "done"})
    store.get(Table.RUNS, "run_01")
    parsed = []
    real = S.json.loads
    monkeypatch.setattr(S.json, "loads", lambda text, *a, **k: parsed.append(1) or real(text, *a, **k))
    for _ in range(5):
        assert store.get(Table.RUNS, "run_01")["status"] == "done"
        assert store.find(Table.RUNS, owner="alice")
    assert parsed == []
    store.update(Table.RUNS, "run_01", {"status": "failed"})
    assert store.get(Table.RUNS, "run_01")["status"] == "failed" and parsed  # changed on disk: read again


def test_a_write_in_the_same_clock_tick_and_of_the_same_size_is_still_seen(tmp_path, monkeypatch):
    """The parse cache keys on (inode, size, mtime); a file system may reuse the inode at once and a coarse
    clock may give two writes one mtime: every store write moves the mtime on, so no reader sees an old one."""
    import nocode_widgets.files as F

    store = Store(tmp_path / "nocode.json")
    store.insert(Table.RUNS, {"id": "run_01", "owner": "alice", "status": "queued"})
    assert store.get(Table.RUNS, "run_01")["status"] == "queued"  # parsed and cached
    frozen = (tmp_path / "users" / "alice" / "records.json").stat().st_mtime_ns
    monkeypatch.setattr(F.time, "time_ns", lambda: frozen)  # a clock that has not moved
    store.update(Table.RUNS, "run_01", {"status": "failed"})  # same length as "queued"
    assert store.get(Table.RUNS, "run_01")["status"] == "failed"
    store.update(Table.RUNS, "run_01", {"status": "queued"})
    assert store.get(Table.RUNS, "run_01")["status"] == "queued"
    assert [d["id"] for d in store.watched(Table.RUNS)] == ["run_01"]


def test_a_transaction_sees_what_it_inserted_and_may_read_the_accounts(tmp_path):
    store = Store(tmp_path / "nocode.json")
    store.insert(Table.USERS, {"id": "alice", "username": "alice"})
    with store.transaction("alice") as tx:
        tx.insert(Table.RUNS, {"id": "run_01", "owner": "alice", "status": "queued"})
        assert tx.get(Table.RUNS, "run_01")["status"] == "queued"
        assert tx.update(Table.RUNS, "run_01", {"status": "done"})
        assert tx.get(Table.USERS, "alice")["username"] == "alice"
        with pytest.raises(RuntimeError):
            tx.insert(Table.USERS, {"id": "mallory"})  # reading the accounts, not writing them
    assert store.get(Table.RUNS, "run_01")["status"] == "done" and store.get(Table.USERS, "mallory") is None


def test_ids_that_are_not_ids_never_become_file_names(tmp_path):
    store = Store(tmp_path / "nocode.json")
    for bad in ("../../x", "a/b", "", "x" * 100):
        assert store.get(Table.RUNS, bad) is None
        with pytest.raises(ValueError):
            store.insert(Table.RUNS, {"id": bad, "owner": "alice"})
    with pytest.raises(ValueError):
        store.insert(Table.RUNS, {"id": "run_01", "owner": "../bob"})
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["nocode.json", "nocode.json.lock", "store/locks/alice.lock"]
