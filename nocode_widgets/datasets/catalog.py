"""Datasets as the store knows them: a small summary per dataset (name, classes, counts, version).
Every function takes the acting user; someone else's dataset is "not found", never data. An admin
can read every dataset; only the owner changes one.

A teacher shares a dataset with a class as a *frozen* copy (`classroom/classes.share_dataset`): a dataset of
the teacher's, fixed at one version, that the class's students may read and train on (`shared_with`) and
nobody may change. A *hidden* dataset (an assignment's hidden test set) is never readable but by its owner (and
administrators)."""

from __future__ import annotations

import shutil
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

from filelock import FileLock

from ..accounts.auth import User, current_user
from ..errors import DatasetError, NotFound
from ..accounts.quota import check_dataset_count
from ..store import Table, new_id
from ..workspace import Workspace
from .manifest import read_manifest, write_manifest

NAME_MAX = 64


@dataclass(frozen=True)
class Dataset:
    id: str
    owner: str
    name: str
    classes: tuple[str, ...]
    counts: dict = field(default_factory=dict)  # class -> images
    version: int = 0  # goes up whenever its images change; a training split is made per version
    created: float = 0.0
    updated: float = 0.0
    inbox: int = 0  # unsorted pictures waiting for a class (datasets/inbox.py): not training data
    inbox_version: int = 0  # goes up whenever the inbox changes; suggestions are cached per inbox version
    frozen: bool = False  # fixed for good: a class's shared copy or a hidden test set
    shared_with: tuple[str, ...] = ()  # the classes whose students may read it and train on it
    hidden: bool = False  # an assignment's hidden test set: only its owner ever reads it
    source: str = ""  # a copy (a class's frozen one, or a student's own): the dataset it was copied from

    @property
    def image_count(self) -> int:
        return sum(self.counts.values())

    @classmethod
    def from_doc(cls, doc: dict) -> "Dataset":
        return cls(doc["id"], doc["owner"], doc["name"], tuple(doc["classes"]), dict(doc["counts"]),
                   doc["version"], doc["created"], doc["updated"], doc.get("inbox", 0), doc.get("inbox_version", 0),
                   bool(doc.get("frozen")), tuple(doc.get("shared_with", ())), bool(doc.get("hidden")),
                   doc.get("source", ""))


def dataset_folder(ws: Workspace, ds: Dataset) -> Path:
    return ws.settings.user_dir(ds.owner) / "datasets" / ds.id


def dataset_lock(ws: Workspace, ds: Dataset) -> FileLock:
    """Held while a dataset's manifest and summary change (two tabs may import at once)."""
    folder = dataset_folder(ws, ds)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / "dataset.lock"))


def clean_name(raw: str, what: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not name:
        raise DatasetError(f"Please give the {what} a name.")
    if len(name) > NAME_MAX:
        raise DatasetError(f"A {what} name can have at most {NAME_MAX} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in name) or name in (".", ".."):
        raise DatasetError(f"That {what} name has characters that cannot be used.")
    return name


def _key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def _doc(tx, user: User, dataset_id: str, write: bool, frozen_ok: bool = False) -> dict:
    doc = tx.get(Table.DATASETS, dataset_id)
    if doc is None or (doc["owner"] != user.id and (write or not (user.is_admin or can_read_shared(user, doc)))):
        raise NotFound("That dataset does not exist (or is not yours).")
    if write and doc.get("frozen") and not frozen_ok:
        raise DatasetError(FROZEN.format(name=doc["name"]))
    return doc


FROZEN = ("{name!r} is fixed: it is shared with a class or is a hidden test set, so its pictures and classes "
          "cannot change. Copy it to a dataset of your own to edit it.")


def can_read_shared(user: User, doc: dict) -> bool:
    """A student of a class the dataset is shared with (never a hidden test set)."""
    return not doc.get("hidden") and bool(set(doc.get("shared_with", ())) & set(user.classes))


def get_dataset(ws: Workspace, user: User, dataset_id: str) -> Dataset:
    user = current_user(ws, user)
    return Dataset.from_doc(ws.store.read(lambda tx: _doc(tx, user, dataset_id, write=False)))


def get_own_dataset(ws: Workspace, user: User, dataset_id: str) -> Dataset:
    """The dataset, if it is the user's own and may change: what changing it needs (an admin may look at
    anyone's, but not change it; a frozen one changes for nobody)."""
    user = current_user(ws, user)
    return Dataset.from_doc(ws.store.read(lambda tx: _doc(tx, user, dataset_id, write=True)))


def get_trainable_dataset(ws: Workspace, user: User, dataset_id: str) -> Dataset:
    """A dataset the user may train on: their own (frozen or not), or one shared with a class of theirs."""
    user = current_user(ws, user)
    doc = ws.store.read(lambda tx: _doc(tx, user, dataset_id, write=False))
    if doc["owner"] != user.id and not can_read_shared(user, doc):
        raise NotFound("That dataset does not exist (or is not yours).")  # an admin reads others', trains on own
    return Dataset.from_doc(doc)


def shared_datasets(ws: Workspace, user: User) -> list[Dataset]:
    """The datasets shared with the classes the user is a student of, newest first."""
    user = current_user(ws, user)
    found: dict[str, Dataset] = {}
    for class_id in user.classes:
        for dataset_id in (ws.store.get(Table.CLASSES, class_id) or {}).get("datasets", ()):
            doc = ws.store.get(Table.DATASETS, dataset_id)
            if doc is not None and can_read_shared(user, doc):
                found[dataset_id] = Dataset.from_doc(doc)
    return sorted(found.values(), key=lambda d: d.created, reverse=True)


def find_dataset(ws: Workspace, user: User, name_or_id: str) -> Dataset:
    """By id, or by the user's own dataset name (case-insensitive)."""
    user = current_user(ws, user)
    found = ws.store.find(Table.DATASETS, owner=user.id, key=_key(name_or_id.strip()))
    if found:
        return Dataset.from_doc(found[0])
    return get_dataset(ws, user, name_or_id)


def list_datasets(ws: Workspace, user: User, everyone: bool = False) -> list[Dataset]:
    """The user's datasets, newest first; `everyone` (admins only) lists all users' datasets."""
    user = current_user(ws, user)
    docs = ws.store.find(Table.DATASETS) if (everyone and user.is_admin) else ws.store.find(Table.DATASETS, owner=user.id)
    return sorted((Dataset.from_doc(d) for d in docs), key=lambda d: d.created, reverse=True)


def create_dataset(ws: Workspace, user: User, name: str, classes=()) -> Dataset:
    user = current_user(ws, user)
    name = clean_name(name, "dataset")
    labels = _unique_classes(classes)
    now = time.time()
    doc = {"id": new_id("ds"), "owner": user.id, "name": name, "key": _key(name), "classes": labels,
           "counts": {c: 0 for c in labels}, "version": 0, "created": now, "updated": now}
    return insert_dataset(ws, user, doc)


def insert_dataset(ws: Workspace, user: User, doc: dict) -> Dataset:
    """Record a new dataset of the user's: refused when they have one of that name, or as many as allowed."""
    with ws.store.transaction(user.id) as tx:
        mine = tx.find(Table.DATASETS, owner=user.id)
        if any(d["key"] == doc["key"] for d in mine):
            raise DatasetError(f"You already have a dataset called {doc['name']!r}.")
        check_dataset_count(ws, len(mine))
        tx.insert(Table.DATASETS, doc)
    return Dataset.from_doc(doc)


def _unique_classes(classes) -> list[str]:
    labels: list[str] = []
    for raw in classes:
        label = clean_name(raw, "class")
        if _key(label) in {_key(c) for c in labels}:
            raise DatasetError(f"The class {label!r} appears twice.")
        labels.append(label)
    return labels


def update_summary(ws: Workspace, user: User, dataset_id: str, change) -> Dataset:
    """Apply `change(doc) -> dict of new fields` to the owner's dataset in one locked transaction."""
    user = current_user(ws, user)
    with ws.store.transaction(user.id) as tx:
        doc = _doc(tx, user, dataset_id, write=True)
        fields = change(doc)
        fields["updated"] = time.time()
        tx.update(Table.DATASETS, dataset_id, fields)
        doc.update(fields)
    return Dataset.from_doc(doc)


def rename_dataset(ws: Workspace, user: User, dataset_id: str, new_name: str) -> Dataset:
    name = clean_name(new_name, "dataset")
    user = current_user(ws, user)
    with ws.store.transaction(user.id) as tx:
        doc = _doc(tx, user, dataset_id, write=True)
        clash = [d for d in tx.find(Table.DATASETS, owner=user.id, key=_key(name)) if d["id"] != dataset_id]
        if clash:
            raise DatasetError(f"You already have a dataset called {name!r}.")
        tx.update(Table.DATASETS, dataset_id, {"name": name, "key": _key(name), "updated": time.time()})
        doc.update(name=name, key=_key(name))
    return Dataset.from_doc(doc)


def delete_dataset(ws: Workspace, user: User, dataset_id: str) -> None:
    """Delete the dataset and its images (a frozen one once no class uses it)."""
    user = current_user(ws, user)
    with ws.store.transaction(user.id) as tx:
        doc = _doc(tx, user, dataset_id, write=True, frozen_ok=True)
        if doc.get("shared_with") or doc.get("hidden_for"):
            raise DatasetError(f"{doc['name']!r} is used by a class (shared, or an assignment's hidden test set). "
                               "Remove the class or the assignment first.")
        tx.remove(Table.DATASETS, dataset_id)
    ds = Dataset.from_doc(doc)
    shutil.rmtree(dataset_folder(ws, ds), ignore_errors=True)


def add_class(ws: Workspace, user: User, dataset_id: str, label: str) -> Dataset:
    label = clean_name(label, "class")

    def change(doc):
        if _key(label) in {_key(c) for c in doc["classes"]}:
            raise DatasetError(f"This dataset already has a class called {label!r}.")
        return {"classes": doc["classes"] + [label], "counts": {**doc["counts"], label: 0}}

    return update_summary(ws, user, dataset_id, change)


def rename_class(ws: Workspace, user: User, dataset_id: str, old: str, new: str) -> Dataset:
    new = clean_name(new, "class")
    ds = get_own_dataset(ws, user, dataset_id)
    if old not in ds.classes:
        raise DatasetError(f"There is no class called {old!r}.")
    if _key(new) in {_key(c) for c in ds.classes if c != old}:
        raise DatasetError(f"This dataset already has a class called {new!r}.")
    return _rewrite_images(ws, user, ds, lambda e: replace(e, label=new) if e.label == old else e,
                           lambda classes: [new if c == old else c for c in classes])


def delete_class(ws: Workspace, user: User, dataset_id: str, label: str) -> Dataset:
    ds = get_own_dataset(ws, user, dataset_id)
    if label not in ds.classes:
        raise DatasetError(f"There is no class called {label!r}.")
    return _rewrite_images(ws, user, ds, lambda e: None if e.label == label else e,
                           lambda classes: [c for c in classes if c != label])


def delete_images(ws: Workspace, user: User, dataset_id: str, hashes) -> Dataset:
    gone = set(hashes)
    ds = get_own_dataset(ws, user, dataset_id)
    return _rewrite_images(ws, user, ds, lambda e: None if e.hash in gone else e, lambda classes: classes)


def relabel_images(ws: Workspace, user: User, dataset_id: str, moves: dict) -> Dataset:
    """Move pictures (by hash) to other classes of the dataset: a new version; nothing is deleted."""
    ds = get_own_dataset(ws, user, dataset_id)
    unknown = sorted({label for label in moves.values() if label not in ds.classes})
    if unknown:
        raise DatasetError(f"There is no class called {unknown[0]!r}.")
    return _rewrite_images(ws, user, ds, lambda e: replace(e, label=moves[e.hash]) if e.hash in moves else e,
                           lambda classes: classes)


def _rewrite_images(ws, user, ds: Dataset, map_entry, map_classes) -> Dataset:
    """Change the manifest entry by entry (None drops one) and the class list, then the summary.
    `ds` comes from get_own_dataset; update_summary checks ownership again inside its transaction."""
    folder = dataset_folder(ws, ds)
    with dataset_lock(ws, ds):
        before = read_manifest(folder)
        after = [e for e in map(map_entry, before) if e is not None]
        write_manifest(folder, after)
        kept = {e.file for e in after}
        for e in before:
            if e.file not in kept:
                (folder / e.file).unlink(missing_ok=True)

        def change(doc):
            classes = map_classes(doc["classes"])
            return {"classes": classes, "counts": count_by_class(after, classes), "version": doc["version"] + 1}

        return update_summary(ws, user, ds.id, change)


def count_by_class(entries, classes) -> dict:
    counts = {c: 0 for c in classes}
    for e in entries:
        counts[e.label] = counts.get(e.label, 0) + 1
    return counts
