"""Schema versions of the store, and the migrations between them. Opening a data folder written by an
older version migrates it once, under the accounts lock, after copying the old file beside it
(`nocode.json.v<N>-backup-<time>`); a folder written by a newer version is refused in plain words.

- Version 1: one file, `nocode.json`, with every table.
- Version 2: accounts in `nocode.json`; each person's datasets, runs and studies in their own
  `users/<id>/records.json`; the id index, the watch lists and the owners' summary under `store/`.
"""

from __future__ import annotations

import logging
import shutil
import time
from typing import TYPE_CHECKING

from .files import write_json_atomic
from .store_files import ID_SHAPE, OWNED, SCHEMA_VERSION, WATCHED, StoreTooNew, Table, read_parsed

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


def schema_version(data: dict | None) -> int | None:
    """The version a store file says it is (None: a new, empty store)."""
    for doc in ((data or {}).get(Table.META.value) or {}).values():
        if doc.get("id") == "schema":
            return int(doc["version"])
    return None


def open_store(store: "Store") -> None:
    """Make the store at `store.path` current: create it, migrate it, or refuse it."""
    if schema_version(read_parsed(store.path)) == SCHEMA_VERSION:
        return
    store.path.parent.mkdir(parents=True, exist_ok=True)
    with store._locked(store._lock):
        data = read_parsed(store.path) or {}
        version = schema_version(data)
        if version == SCHEMA_VERSION:
            return
        if version is not None and version > SCHEMA_VERSION:
            raise StoreTooNew(f"This data folder was written by a newer version of the app (store version {version}; "
                              f"this one reads up to {SCHEMA_VERSION}). Update the app to open it.")
        if version is None and not any(data.get(t.value) for t in Table):
            write_json_atomic(store.path, _with_version({}, SCHEMA_VERSION))
            return
        backup = store.path.with_name(f"{store.path.name}.v{version or 1}-backup-{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copy2(store.path, backup)
        for step in range(version or 1, SCHEMA_VERSION):
            data = MIGRATIONS[step](store, data)
        write_json_atomic(store.path, data)  # the last step: the version says it is done


def _with_version(data: dict, version: int) -> dict:
    data = dict(data)
    data[Table.META.value] = {k: v for k, v in (data.get(Table.META.value) or {}).items() if v.get("id") != "schema"}
    next_key = str(max((int(k) for k in data[Table.META.value]), default=0) + 1)
    data[Table.META.value][next_key] = {"id": "schema", "version": version}
    return data


def _one_file_to_per_person(store: "Store", data: dict) -> dict:
    """Version 1 -> 2: move datasets, runs and studies into their owners' files, and build the indexes.
    Every file written here is written whole, so a migration cut short is simply done again."""
    people: dict[str, dict] = {}
    orphans = []
    for table in OWNED:
        for doc in (data.get(table.value) or {}).values():
            if not all(isinstance(doc.get(k), str) and ID_SHAPE.match(doc[k]) for k in ("id", "owner")):
                orphans.append({"table": table.value, "doc": doc})  # kept aside, never lost
                continue
            person = people.setdefault(doc["owner"], {t.value: {} for t in OWNED})
            person[table.value][str(len(person[table.value]) + 1)] = doc
    if orphans:
        log.warning("%d records without a proper id or owner kept aside in store/orphans-v1.json", len(orphans))
        write_json_atomic(store.meta / "orphans-v1.json", orphans)
    for owner, tables in people.items():
        write_json_atomic(store._path_of(owner), tables)
    rebuild_indexes(store, people)
    accounts = {k: v for k, v in data.items() if k not in {t.value for t in OWNED}}
    return _with_version(accounts, 2)


def rebuild_indexes(store: "Store", people: dict[str, dict] | None = None) -> None:
    """Write the id index, the watch lists and the owners' summary afresh from the people's files (or from
    `people`: owner -> their tables): after a migration or a restore."""
    if people is None:
        people = {path.parent.name: read_parsed(path) or {}
                  for path in sorted((store.root / "users").glob("*/records.json"))}
    index: dict[str, dict] = {}
    watch: dict[str, dict] = {t.value: {} for t in WATCHED}
    owners = {}
    for owner, tables in people.items():
        for table in OWNED:
            for doc in (tables.get(table.value) or {}).values():
                if not (isinstance(doc.get("id"), str) and ID_SHAPE.match(doc["id"])):
                    continue  # not an id the app makes: never a file name
                index.setdefault(doc["id"][-2:], {})[doc["id"]] = owner
                if table in WATCHED and doc.get("status") in WATCHED[table]:
                    watch[table.value][doc["id"]] = owner
        runs = (tables.get(Table.RUNS.value) or {}).values()
        owners[owner] = {**{t.value: len(tables.get(t.value) or {}) for t in OWNED},
                         "newest_run": max((r.get("created", 0.0) for r in runs), default=0.0),
                         "last_served": max((r.get("launched") or r.get("started") or 0.0 for r in runs), default=0.0)}
    shutil.rmtree(store.meta / "index", ignore_errors=True)
    for shard, entries in index.items():
        write_json_atomic(store.meta / "index" / f"{shard}.json", entries)
    for table, entries in watch.items():
        write_json_atomic(store.meta / "watch" / f"{table}.json", entries)
    write_json_atomic(store.meta / "owners.json", {o: s for o, s in owners.items() if any(s[t.value] for t in OWNED)})


MIGRATIONS = {1: _one_file_to_per_person}  # from version N to N + 1
