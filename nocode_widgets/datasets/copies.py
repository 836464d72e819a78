"""Copies of a dataset: a class's frozen copy (the teacher's own, fixed at one version, shared read-only) and
a student's editable copy of a shared dataset. Pictures are hard links where the file system allows (a
stored picture is never changed in place, only added or removed), else copies; the copy's manifest is its
own, so editing it never touches the source."""

from __future__ import annotations

import shutil
import time

from ..accounts.auth import User, current_user
from ..accounts.quota import reserved
from ..files import link_or_copy
from ..store import new_id
from ..workspace import Workspace
from .catalog import (Dataset, _key, clean_name, count_by_class, dataset_folder, dataset_lock, get_trainable_dataset,
                      insert_dataset)
from .manifest import read_manifest, write_manifest


def copy_dataset(ws: Workspace, user: User, source_id: str, name: str, frozen: bool = False,
                 fields: dict | None = None) -> Dataset:
    """A new dataset of `user`'s with the pictures of a dataset they may train on (their own or shared with
    them). `frozen`: fixed for good, keeping the source's version number (what a class is told it trains on).
    Space: counted in `user`'s folder (a frozen copy of one's own dataset links the same files: counted once)."""
    user = current_user(ws, user)
    source = get_trainable_dataset(ws, user, source_id)
    name = clean_name(name, "dataset")
    src_folder = dataset_folder(ws, source)
    with dataset_lock(ws, source):  # a consistent manifest and its files (another tab may be importing)
        entries = [e for e in read_manifest(src_folder) if e.label in source.classes]
        doc = _new_doc(user, name, source, entries, frozen, fields or {})
        folder = ws.settings.user_dir(user.id) / "datasets" / doc["id"]
        linked_free = source.owner == user.id
        with reserved(ws, user.id, 0 if linked_free else sum(e.bytes for e in entries)):
            try:
                (folder / "images").mkdir(parents=True, exist_ok=True)
                for e in entries:
                    link_or_copy(src_folder / e.file, folder / e.file)
                write_manifest(folder, entries)
                insert_dataset(ws, user, doc)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
    return Dataset.from_doc(doc)


def _new_doc(user: User, name: str, source: Dataset, entries, frozen: bool, fields: dict) -> dict:
    now = time.time()
    classes = list(source.classes)
    return {"id": new_id("ds"), "owner": user.id, "name": name, "key": _key(name), "classes": classes,
            "counts": count_by_class(entries, classes), "version": source.version if frozen else 1,
            "created": now, "updated": now, "frozen": frozen, "source": source.id, **fields}
