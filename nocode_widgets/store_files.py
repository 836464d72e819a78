"""The store's files, below both `store` and `migrations` (so the two do not import each other): the
tables and which file each lives in, the schema version, the shape of ids, and reading and writing a store
file through one parse cache per process (a file unchanged on disk, same inode, size and mtime, is not
parsed again)."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
from collections import OrderedDict
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import NocodeError
from .files import write_json_atomic

SCHEMA_VERSION = 2


class Table(str, Enum):
    USERS = "users"
    DATASETS = "datasets"
    RUNS = "runs"
    STUDIES = "studies"  # model comparisons and baggings: groups of runs (runs/studies.py)
    DEVICES = "devices"  # "keep me signed in" tokens (hashes only)
    META = "meta"
    CLASSES = "classes"  # a teacher's classes: name, join code, shared datasets (classroom/classes.py)
    ASSIGNMENTS = "assignments"  # in the teacher's file (classroom/assignments.py)
    SUBMISSIONS = "submissions"  # students' submissions, in the teacher's file: an assignment's board reads one file


OWNED = (Table.DATASETS, Table.RUNS, Table.STUDIES, Table.ASSIGNMENTS, Table.SUBMISSIONS)  # in their owner's file
WATCHED = {Table.RUNS: ("queued", "running"), Table.STUDIES: ("open",)}  # statuses found across everyone


class StoreTooNew(NocodeError):
    """The data folder was written by a newer version of the app."""


def new_id(prefix: str) -> str:
    """An id nobody can guess (64 random bits), readable in logs: `ds_9f3c...`."""
    return f"{prefix}_{secrets.token_hex(8)}"


# Parsed files, reused while unchanged on disk ------------------------------------------------------------

CACHED_FILES = 4096  # parsed files (and their lookups) a process keeps, the least recently used dropped
_PARSED: OrderedDict[str, tuple[tuple, Any]] = OrderedDict()
_PARSED_LOCK = threading.Lock()
ID_SHAPE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")  # what an owned document's id and an owner id look like


def _remember(cache: OrderedDict, key, value) -> None:
    with _PARSED_LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > CACHED_FILES:
            cache.popitem(last=False)


def _identity(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_parsed(path: Path, empty=None):
    """The JSON in `path` (shared: never change it), parsed again only when the file changed. Every store
    write gives its file a newer mtime than the last (`write_store_file`), so an unchanged identity means
    unchanged content even when the file system reuses the inode at once."""
    key = str(path)
    ident = _identity(path)
    if ident is None:
        return empty
    with _PARSED_LOCK:
        cached = _PARSED.get(key)
    if cached is not None and cached[0] == ident:
        return cached[1]
    data = read_fresh(path, empty)
    _remember(_PARSED, key, (ident, data))
    return data


def read_fresh(path: Path, empty=None):
    """The JSON in `path` read from disk now (a private copy): what a write under a lock starts from."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:  # removed between a look and the read (a person's last record deleted)
        return copy.deepcopy(empty)
    return json.loads(text) if text.strip() else (copy.deepcopy(empty) if empty is not None else {})


def write_store_file(path: Path, data) -> None:
    """Atomically, with an mtime strictly newer than the file's last (see `read_parsed`)."""
    before = _identity(path)
    write_json_atomic(path, data, min_mtime_ns=before[2] + 1 if before else None)


_LOOKUPS: OrderedDict[tuple[str, str, str], tuple[tuple, dict]] = OrderedDict()


def lookup(path: Path, table: str, field: str) -> dict:
    """{value: [document, ...]} of `table` in the file at `path` by `field`, made once per version of the
    file (shared: never change it): a read by id or by name costs the same with 10 people or 1,000."""
    key, ident = (str(path), table, field), _identity(path)
    with _PARSED_LOCK:
        cached = _LOOKUPS.get(key)
    if cached is not None and cached[0] == ident:
        return cached[1]
    index: dict = {}
    for doc in ((read_parsed(path) or {}).get(table) or {}).values():
        value = doc.get(field)
        if isinstance(value, (str, int, float, bool)) or value is None:
            index.setdefault(value, []).append(doc)
    _remember(_LOOKUPS, key, (ident, index))
    return index
