"""The embedded TinyDB store, safe across processes (every browser tab is a kernel process) and
across crashes.

Each operation takes `FileLock(<db>.lock)`, opens TinyDB, acts and closes. Writes are buffered for
the whole transaction and land as one temp file + fsync + `os.replace`, so a reader sees the old or
the new file, never half of one, and a transaction that raises writes nothing. Reads that change
nothing skip the lock: the atomic replace already makes them consistent.

Documents are small (users, dataset summaries, one summary per run) and carry their own string
`id`; bulk data lives in files referenced by path.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .errors import StoreBusy
from .files import write_json_atomic

SCHEMA_VERSION = 1
log = logging.getLogger("nocode_widgets.store")


class Table(str, Enum):
    USERS = "users"
    DATASETS = "datasets"
    RUNS = "runs"
    STUDIES = "studies"  # model comparisons and baggings: groups of runs (studies.py)
    DEVICES = "devices"  # "keep me signed in" tokens (hashes only)
    META = "meta"


def new_id(prefix: str) -> str:
    """An id nobody can guess (64 random bits), readable in logs: `ds_9f3c...`."""
    return f"{prefix}_{secrets.token_hex(8)}"


class _AtomicJSONStorage(Storage):
    """TinyDB storage that reads the file once and writes it once, atomically, on commit."""

    def __init__(self, path: str):
        self.path = Path(path)
        self._data: dict | None = None
        self.dirty = False

    def read(self) -> dict | None:
        if self._data is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
            self._data = json.loads(text) if text.strip() else {}
        return copy.deepcopy(self._data)

    def write(self, data: dict) -> None:
        self._data = copy.deepcopy(data)
        self.dirty = True

    def commit(self) -> None:
        if self.dirty:
            write_json_atomic(self.path, self._data)
            self.dirty = False

    def close(self) -> None:
        pass


class Transaction:
    """The operations of one locked session with the store. Documents go in and out as plain dicts
    with a string `id`; what comes out is a copy, so changing it changes nothing stored."""

    def __init__(self, db: TinyDB, writable: bool):
        self._db = db
        self._writable = writable

    def _table(self, table: Table):
        return self._db.table(Table(table).value)

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("this transaction is read-only")

    def insert(self, table: Table, doc: dict) -> str:
        self._check_writable()
        if "id" not in doc:
            raise ValueError("documents need an 'id'")
        self._table(table).insert(dict(doc))
        return doc["id"]

    def get(self, table: Table, doc_id: str) -> dict | None:
        found = self._table(table).get(Query().id == doc_id)
        return dict(found) if found is not None else None

    def find(self, table: Table, **equals: Any) -> list[dict]:
        """Every document whose fields equal the given values (all of them, if none given)."""
        if not equals:
            return [dict(d) for d in self._table(table).all()]
        q = Query().noop()
        for key, value in equals.items():
            q &= Query()[key] == value
        return [dict(d) for d in self._table(table).search(q)]

    def update(self, table: Table, doc_id: str, changes: dict) -> bool:
        self._check_writable()
        return bool(self._table(table).update(dict(changes), Query().id == doc_id))

    def remove(self, table: Table, doc_id: str) -> bool:
        self._check_writable()
        return bool(self._table(table).remove(Query().id == doc_id))

    def remove_where(self, table: Table, **equals: Any) -> int:
        self._check_writable()
        ids = [d["id"] for d in self.find(table, **equals)]
        for doc_id in ids:
            self.remove(table, doc_id)
        return len(ids)


class Store:
    """The store file at `path`. Cheap to create; holds no open file between operations."""

    def __init__(self, path: str | Path, lock_timeout: float = 20.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._lock = FileLock(str(self.path) + ".lock")
        if self.read(lambda tx: tx.get(Table.META, "schema")) is None:
            with self.transaction() as tx:
                if tx.get(Table.META, "schema") is None:
                    tx.insert(Table.META, {"id": "schema", "version": SCHEMA_VERSION})

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A locked read-modify-write session: all its writes land together, or none if it raises.
        A lock held longer than `lock_timeout` (a stopped process) gives StoreBusy, never a hang."""
        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            log.warning("store lock %s not acquired within %.0f s", self._lock.lock_file, self.lock_timeout)
            raise StoreBusy("The server is busy right now. Please try again in a moment.") from None
        try:
            yield from self._session(writable=True)
        finally:
            self._lock.release()

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A consistent read-only view without taking the lock."""
        yield from self._session(writable=False)

    def _session(self, writable: bool) -> Iterator[Transaction]:
        db = TinyDB(str(self.path), storage=_AtomicJSONStorage)
        try:
            yield Transaction(db, writable)
            if writable:
                db.storage.commit()
        finally:
            db.close()

    def read(self, fn):
        """Run `fn(tx)` on a snapshot and return its result."""
        with self.snapshot() as tx:
            return fn(tx)

    # One-operation shortcuts.
    def insert(self, table: Table, doc: dict) -> str:
        with self.transaction() as tx:
            return tx.insert(table, doc)

    def get(self, table: Table, doc_id: str) -> dict | None:
        return self.read(lambda tx: tx.get(table, doc_id))

    def find(self, table: Table, **equals: Any) -> list[dict]:
        return self.read(lambda tx: tx.find(table, **equals))

    def update(self, table: Table, doc_id: str, changes: dict) -> bool:
        with self.transaction() as tx:
            return tx.update(table, doc_id, changes)

    def remove(self, table: Table, doc_id: str) -> bool:
        with self.transaction() as tx:
            return tx.remove(table, doc_id)
