"""Store throughput with 8 writer processes at once (every operation under the file lock, atomic
replace with fsync) against plain TinyDB in one process (no lock, no fsync: not safe with several
processes, so it is the speed ceiling, not an alternative).

    python benchmarks/bench_store.py
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import table  # noqa: E402

WRITERS, PER_WRITER = 8, 50


def _write(path: str, worker: int, barrier) -> None:
    from nocode_widgets.store import Store, Table

    store = Store(path)
    barrier.wait()
    for i in range(PER_WRITER):
        store.insert(Table.RUNS, {"id": f"w{worker}-{i}", "owner": f"u{worker}", "status": "queued"})


def ours_concurrent(path: Path) -> float:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(WRITERS + 1)
    procs = [ctx.Process(target=_write, args=(str(path), w, barrier)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    for p in procs:
        p.join()
    return time.perf_counter() - start


def ours_reads(path: Path, n: int = 400) -> float:
    from nocode_widgets.store import Store, Table

    store = Store(path)
    start = time.perf_counter()
    for i in range(n):
        store.get(Table.RUNS, f"w{i % WRITERS}-{i % PER_WRITER}")
    return time.perf_counter() - start


def plain_tinydb(path: Path, n: int) -> float:
    from tinydb import TinyDB

    db = TinyDB(path)
    start = time.perf_counter()
    for i in range(n):
        db.table("runs").insert({"id": f"r{i}", "owner": "u", "status": "queued"})
    db.close()
    return time.perf_counter() - start


def main() -> None:
    n = WRITERS * PER_WRITER
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from nocode_widgets.store import Store

        Store(tmp / "ours.json")
        ours_s = ours_concurrent(tmp / "ours.json")
        stored = len(json.loads((tmp / "ours.json").read_text())["runs"])
        reads_s = ours_reads(tmp / "ours.json")
        plain_s = plain_tinydb(tmp / "plain.json", n)
    rows = [{"case": f"ours, {WRITERS} processes writing at once", "writes": n, "stored": stored, "seconds": ours_s,
             "ops_per_s": n / ours_s},
            {"case": "ours, reads (lock-free snapshot) in 1 process", "writes": 400, "seconds": reads_s,
             "ops_per_s": 400 / reads_s},
            {"case": "plain TinyDB, 1 process, no lock, no fsync", "writes": n, "stored": n, "seconds": plain_s,
             "ops_per_s": n / plain_s}]
    print(f"Store with {n} run records written by {WRITERS} processes")
    print(table(rows, ["case", "writes", "stored", "seconds", "ops_per_s"]))


if __name__ == "__main__":
    main()
