"""The embedded TinyDB store, safe across processes (every browser tab is a kernel process) and across
crashes, with a cost that follows the scope of each operation rather than everyone's history.

Files (schema version 2), under the data folder:
- `nocode.json`: accounts: users, remembered devices, classes, meta (the schema version);
- `users/<id>/records.json`: that person's datasets, runs and studies, and a teacher's assignments and their
  submissions (the *owned* tables);
- `store/index/<xx>.json`: which person owns a dataset, run or study id (256 shards by the id's last two
  hex digits), so an id finds its file without reading anyone else's;
- `store/watch/<table>.json`: the active runs and open studies of everyone, for the scheduler;
- `store/owners.json`: per person, how many datasets, runs and studies, and their newest run (the admin's
  views read this instead of every file);
- `store/locks/<id>.lock`: each person's lock (the accounts file's is `nocode.json.lock`).

Each file has its own lock: two people's writes never wait for each other. A transaction takes the lock
of each file it changes (the accounts file first, then a person's), acts on TinyDB in memory, and writes
each changed file once, as a temp file + fsync + `os.replace`, so a reader sees the old or the new file,
never half of one; a transaction that raises writes nothing. Reads skip the locks and reuse the parsed
file while it is unchanged on disk (same inode, size and mtime); only what is returned is copied.
Index entries are added before the records they point to and removed after, so a crash in between leaves
at most an entry pointing to nothing, which readers ignore.

Documents are small and carry their own string `id`; owned documents carry their `owner`. Bulk data
lives in files referenced by path.
"""

from __future__ import annotations

import copy
import logging
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from .errors import NocodeError, StoreBusy
from .migrations import open_store
from .store_files import (ID_SHAPE, OWNED, WATCHED, Table, lookup, new_id,  # noqa: F401 - new_id: callers know it here
                          read_fresh, read_parsed, write_store_file)

log = logging.getLogger("nocode_widgets.store")
BUSY = "The server is busy right now. Please try again in a moment."


class _CachedStorage(Storage):
    """TinyDB storage over one file: reads the shared parse (copied first when the session may write),
    writes once, atomically, on commit."""

    def __init__(self, path: str, writable: bool = False, drop_when_empty: bool = False):
        self.path = Path(path)
        self.writable, self.drop_when_empty = writable, drop_when_empty
        self._data: dict | None = None
        self.dirty = False

    def read(self) -> dict | None:
        if self._data is None:  # a session that may write reads the disk, never a cached parse
            self._data = read_fresh(self.path) if self.writable and self.path.exists() else read_parsed(self.path)
        return self._data

    def write(self, data: dict) -> None:
        if not self.writable:
            raise RuntimeError("this transaction is read-only")
        self._data = data
        self.dirty = True

    def commit(self) -> None:
        if self.dirty:
            if self.drop_when_empty and not any(self._data.values()):
                self.path.unlink(missing_ok=True)  # a person with no records has no file
            else:
                write_store_file(self.path, self._data)
            self.dirty = False

    def close(self) -> None:
        pass


class _File:
    """One TinyDB file in a session: its documents by table, read lazily."""

    def __init__(self, path: Path, writable: bool, person: bool):
        self.path = path
        self.db = TinyDB(str(path), storage=_CachedStorage, writable=writable, drop_when_empty=person)
        self.before = self._owned_state() if writable else {}

    def table(self, table: Table):
        return self.db.table(Table(table).value)

    def _owned_state(self) -> dict:
        """{table: {id: status}} of the owned tables as they are now (what a commit compares against)."""
        data = self.db.storage.read() or {}
        return {t: {d["id"]: d.get("status") for d in data.get(t.value, {}).values()} for t in OWNED}

    def changes(self) -> dict:
        return {"before": self.before, "after": self._owned_state()}

    def commit(self) -> None:
        self.db.storage.commit()


class Transaction:
    """The operations of one session with the store. Documents go in and out as plain dicts with a string
    `id`; what comes out is a copy, so changing it changes nothing stored. Owned documents are found in
    their owner's file: by `owner=` in `find`, by the document in `insert`, by the id index otherwise."""

    def __init__(self, store: "Store", writable: bool, owner: str | None, stack: ExitStack):
        self._store, self._writable, self._owner, self._stack = store, writable, owner, stack
        self._files: dict[str | None, _File] = {}  # None: the accounts file; else an owner's file

    # Routing ------------------------------------------------------------------------------------------

    def _file(self, owner: str | None) -> _File:
        if owner is None and self._writable and self._owner is not None:  # a person's transaction reads accounts
            if "accounts" not in self._files:
                self._files["accounts"] = _File(self._store.path, False, person=False)
            return self._files["accounts"]
        if owner not in self._files:
            if self._writable:
                if self._owner is not None and owner != self._owner:
                    raise RuntimeError(f"a transaction of {self._owner} cannot change {owner or 'the accounts'}")
                self._stack.enter_context(self._store._locked(self._store._lock_of(owner)))
            self._files[owner] = _File(self._store._path_of(owner), self._writable, person=owner is not None)
        return self._files[owner]

    def _table(self, table: Table, owner: str | None = None):
        table = Table(table)
        if table in OWNED:
            if owner is None:
                raise RuntimeError(f"{table.value} live in their owner's file: say whose")
            return self._file(owner).table(table)
        return self._file(None).table(table)

    def _owner_of(self, table: Table, doc_id: str) -> str | None:
        """The owner by the index, or by this transaction's own files (what it inserted is not indexed yet)."""
        if Table(table) not in OWNED:
            return None
        owner = self._store.owner_of(doc_id)
        if owner is None and self._writable:
            owner = next((o for o, f in self._files.items() if o not in (None, "accounts")
                          and f.table(table).contains(Query().id == doc_id)), None)
        return owner

    def _outside(self, table: Table, owner: str | None) -> bool:
        """An owned document that is nobody's, or not in this person-scoped transaction's file: absent here."""
        return Table(table) in OWNED and (owner is None or (self._writable and self._owner not in (None, owner)))

    def _check_writable(self, table: Table) -> None:
        """Before TinyDB touches anything: a read-only file's parse is shared by every reader of the process."""
        if not self._writable:
            raise RuntimeError("this transaction is read-only")
        if self._owner is not None and Table(table) not in OWNED:
            raise RuntimeError(f"a transaction of {self._owner} reads the accounts but cannot change them")

    # Operations ---------------------------------------------------------------------------------------

    def insert(self, table: Table, doc: dict) -> str:
        self._check_writable(table)
        if "id" not in doc:
            raise ValueError("documents need an 'id'")
        if Table(table) in OWNED and not all(isinstance(doc.get(k), str) and ID_SHAPE.match(doc[k]) for k in ("id", "owner")):
            raise ValueError(f"an owned document needs an id and an owner of letters and digits: {doc.get('id')!r}")
        self._table(table, doc.get("owner")).insert(copy.deepcopy(doc))
        return doc["id"]

    def get(self, table: Table, doc_id: str) -> dict | None:
        owner = self._owner_of(table, doc_id)
        if self._outside(table, owner):
            return None
        if not self._writable:  # from the file's index: no scan
            found = lookup(self._store._path_of(owner), Table(table).value, "id").get(doc_id)
            return copy.deepcopy(found[0]) if found else None
        found = self._table(table, owner).get(Query().id == doc_id)
        return copy.deepcopy(dict(found)) if found is not None else None

    def find(self, table: Table, **equals: Any) -> list[dict]:
        """Every document whose fields equal the given values (all of them, if none given). An owned
        table without `owner=` reads every person's file: for the administrator's rare views only."""
        if Table(table) in OWNED and "owner" not in equals:
            return [d for owner in self._store.owners() for d in self.find(table, owner=owner, **equals)]
        if self._outside(table, equals.get("owner")):
            return []
        first = next((k for k, v in equals.items() if k != "owner" and isinstance(v, (str, int, float, bool))), None)
        if not self._writable and first is not None:  # from the file's index on one field, then the others
            path = self._store._path_of(equals.get("owner") if Table(table) in OWNED else None)
            docs = lookup(path, Table(table).value, first).get(equals[first], [])
            return [copy.deepcopy(d) for d in docs if all(d.get(k) == v for k, v in equals.items())]
        t = self._table(table, equals.get("owner"))
        if not equals:
            docs = t.all()
        else:
            q = Query().noop()
            for key, value in equals.items():
                q &= Query()[key] == value
            docs = t.search(q)
        return [copy.deepcopy(dict(d)) for d in docs]

    def update(self, table: Table, doc_id: str, changes: dict) -> bool:
        self._check_writable(table)
        owner = self._owner_of(table, doc_id)
        if self._outside(table, owner):
            return False
        return bool(self._table(table, owner).update(copy.deepcopy(dict(changes)), Query().id == doc_id))

    def remove(self, table: Table, doc_id: str) -> bool:
        self._check_writable(table)
        owner = self._owner_of(table, doc_id)
        if self._outside(table, owner):
            return False
        return bool(self._table(table, owner).remove(Query().id == doc_id))

    def remove_where(self, table: Table, **equals: Any) -> int:
        self._check_writable(table)
        ids = [d["id"] for d in self.find(table, **equals)]
        if not ids:
            return 0
        t = self._table(table, equals.get("owner") if Table(table) in OWNED else None)
        for doc_id in ids:
            t.remove(Query().id == doc_id)
        return len(ids)

    # Commit -------------------------------------------------------------------------------------------

    def _commit(self) -> None:
        """Each changed file once: index entries added and the person's summary written first, the records,
        then entries removed. A crash in between leaves entries and a summary that run ahead of the records
        (readers find nothing more behind them), never records that no index finds."""
        people = [(owner, f) for owner, f in self._files.items() if owner not in (None, "accounts") and f.db.storage.dirty]
        changes = {owner: f.changes() for owner, f in people}
        for owner, change in changes.items():
            self._store._index_changes(owner, change, adding=True)
            self._store._summarize(owner, self._files[owner])
        for _, f in people:
            f.commit()
        if None in self._files:
            self._files[None].commit()
        for owner, change in changes.items():  # the records are written: what follows must not fail the caller
            try:
                self._store._index_changes(owner, change, adding=False)
            except (NocodeError, OSError):
                log.exception("the store's index entries of %s removed records were left (readers ignore them)",
                              owner)


def _entered(ids: list[str], owner: str, adding: bool) -> Callable[[dict], bool]:
    """An edit of an {id: owner} file: the ids entered for `owner`, or struck out."""
    def edit(data: dict) -> bool:
        changed = False
        for doc_id in ids:
            if adding and data.get(doc_id) != owner:
                data[doc_id], changed = owner, True
            elif not adding and doc_id in data:
                del data[doc_id]
                changed = True
        return changed
    return edit


class Store:
    """The store of one data folder, `path` being its accounts file (`<data>/nocode.json`). Cheap to
    create; holds no open file between operations."""

    def __init__(self, path: str | Path, lock_timeout: float = 20.0):
        self.path = Path(path)
        self.root = self.path.parent
        self.lock_timeout = lock_timeout
        self._lock = FileLock(str(self.path) + ".lock")
        self._person_locks: dict[str, FileLock] = {}
        self.meta = self.root / "store"
        open_store(self)

    # Where things are ---------------------------------------------------------------------------------

    def _path_of(self, owner: str | None) -> Path:
        if owner is None:
            return self.path
        if not (isinstance(owner, str) and ID_SHAPE.match(owner)):
            raise ValueError(f"not an owner id: {owner!r}")  # never a path of its own making
        return self.root / "users" / owner / "records.json"

    def _lock_of(self, owner: str | None) -> FileLock:
        """Beside the index, not in the person's folder: a deleted account's folder never comes back."""
        if owner is None:
            return self._lock
        if owner not in self._person_locks:
            self._path_of(owner)  # a proper owner id
            (self.meta / "locks").mkdir(parents=True, exist_ok=True)
            self._person_locks[owner] = FileLock(str(self.meta / "locks" / f"{owner}.lock"))
        return self._person_locks[owner]

    def _shard(self, doc_id: str) -> Path:
        return self.meta / "index" / f"{doc_id[-2:]}.json"

    @contextmanager
    def _locked(self, lock: FileLock):
        try:
            lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            log.warning("store lock %s not acquired within %.0f s", lock.lock_file, self.lock_timeout)
            raise StoreBusy(BUSY) from None
        try:
            yield
        finally:
            lock.release()

    def _update_json(self, path: Path, change: Callable[[dict], bool]) -> None:
        """Read-modify-write a small shared file under its own lock; `change` says whether it changed."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked(FileLock(str(path) + ".lock")):
            data = read_fresh(path, {})
            if change(data):
                write_store_file(path, data)

    # Indexes ------------------------------------------------------------------------------------------

    def owner_of(self, doc_id: str) -> str | None:
        """Whose file holds this dataset, run or study id (None: no such id, or not an id at all)."""
        if not isinstance(doc_id, str) or not ID_SHAPE.match(doc_id):
            return None
        return read_parsed(self._shard(doc_id), {}).get(doc_id)

    def owners(self) -> list[str]:
        """Everyone with a file of records (from the files themselves: the rare views that read them all)."""
        return sorted(path.parent.name for path in (self.root / "users").glob("*/records.json"))

    def owner_summaries(self) -> dict:
        """{owner: {"datasets", "runs", "studies", "newest_run", "last_served"}}, kept up to date on every
        write (`last_served`: when one of their runs last got a worker, for the fair queue)."""
        return copy.deepcopy(read_parsed(self.meta / "owners.json", {}))

    def _index_changes(self, owner: str, change: dict, adding: bool) -> None:
        """Enter (`adding`) or strike out the ids a commit of `owner`'s file adds or removes, and the documents
        whose status moves into or out of a watched one."""
        before, after = change["before"], change["after"]
        by_shard: dict[Path, list[str]] = {}
        for table in OWNED:
            new, old = after[table], before[table]
            for doc_id in (new.keys() - old.keys() if adding else old.keys() - new.keys()):
                by_shard.setdefault(self._shard(doc_id), []).append(doc_id)
        for shard, members in by_shard.items():
            self._update_json(shard, _entered(members, owner, adding))
        for table, statuses in WATCHED.items():
            new, old = after[table], before[table]
            into, out_of = (new, old) if adding else (old, new)
            moves = [i for i in new.keys() | old.keys() if into.get(i) in statuses and out_of.get(i) not in statuses]
            if moves:
                self._update_json(self.meta / "watch" / f"{table.value}.json", _entered(moves, owner, adding))

    def _summarize(self, owner: str, file: _File) -> None:
        data = file.db.storage.read() or {}
        runs = data.get(Table.RUNS.value, {}).values()
        summary = {t.value: len(data.get(t.value, {})) for t in OWNED}
        summary["newest_run"] = max((r.get("created", 0.0) for r in runs), default=0.0)
        summary["last_served"] = max((r.get("launched") or r.get("started") or 0.0 for r in runs), default=0.0)

        empty = not any(summary[t.value] for t in OWNED)
        if read_parsed(self.meta / "owners.json", {}).get(owner) == (None if empty else summary):
            return

        def edit(owners):
            if empty:
                return owners.pop(owner, None) is not None
            if owners.get(owner) == summary:
                return False
            owners[owner] = summary
            return True
        self._update_json(self.meta / "owners.json", edit)

    def watched(self, table: Table) -> list[dict]:
        """Every document of `table` whose status is watched (active runs, open studies), everyone's."""
        table = Table(table)
        entries = read_parsed(self.meta / "watch" / f"{table.value}.json", {})
        by_owner: dict[str, set] = {}
        for doc_id, owner in entries.items():
            by_owner.setdefault(owner, set()).add(doc_id)
        found = []
        for owner, ids in by_owner.items():
            by_id = lookup(self._path_of(owner), table.value, "id")
            found += [copy.deepcopy(d) for i in ids for d in by_id.get(i, ()) if d.get("status") in WATCHED[table]]
        return found

    # Sessions -----------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self, owner: str | None = None) -> Iterator[Transaction]:
        """A locked read-modify-write session: all its writes land together, or none if it raises. With
        `owner`, it acts on that person's datasets, runs and studies only (and waits for no one else);
        without, on the accounts, and on any person's records it names (locking them after the accounts).
        A lock held longer than `lock_timeout` (a stopped process) gives StoreBusy, never a hang."""
        with ExitStack() as stack:
            if owner is None:
                stack.enter_context(self._locked(self._lock))
            tx = Transaction(self, True, owner, stack)
            if owner is not None:
                tx._file(owner)
            yield tx
            tx._commit()

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A consistent read-only view of each file, without taking a lock."""
        with ExitStack() as stack:
            yield Transaction(self, False, None, stack)

    def read(self, fn):
        """Run `fn(tx)` on a snapshot and return its result."""
        with self.snapshot() as tx:
            return fn(tx)

    # One-operation shortcuts: each takes the one lock it needs.
    def insert(self, table: Table, doc: dict) -> str:
        with self.transaction(doc.get("owner") if Table(table) in OWNED else None) as tx:
            return tx.insert(table, doc)

    def get(self, table: Table, doc_id: str) -> dict | None:
        return self.read(lambda tx: tx.get(table, doc_id))

    def find(self, table: Table, **equals: Any) -> list[dict]:
        return self.read(lambda tx: tx.find(table, **equals))

    def update(self, table: Table, doc_id: str, changes: dict) -> bool:
        with self.transaction_of(table, doc_id) as tx:
            return tx is not None and tx.update(table, doc_id, changes)

    def remove(self, table: Table, doc_id: str) -> bool:
        with self.transaction_of(table, doc_id) as tx:
            return tx is not None and tx.remove(table, doc_id)

    @contextmanager
    def transaction_of(self, table: Table, doc_id: str) -> Iterator[Transaction | None]:
        """A transaction on the file that holds this document: its owner's for an owned table (None when
        there is no such id), else the accounts'."""
        if Table(table) not in OWNED:
            with self.transaction() as tx:
                yield tx
            return
        owner = self.owner_of(doc_id)
        if owner is None:
            yield None
            return
        with self.transaction(owner) as tx:
            yield tx
