"""A dataset's inbox: unsorted pictures waiting for a class. They arrive through the same ingest as sorted
ones (`ingest.add_to_inbox`: checks, the owner's space, no duplicates), live under `inbox/` in the dataset
folder with their own list (`inbox.jsonl`), count in the owner's space, and are not training data.

Filing a picture gives it a class: it moves into the dataset (a new version, as any change of its pictures
makes) and leaves the inbox. The move is crash-safe: the file is linked into `images/` first, the manifest
written, then the inbox's list, and only then is the inbox's copy removed, so a crash at any point leaves
the picture in one of the two places, never in neither. A picture is named by its id: the first 12
characters of its content hash, the same in every process and on the command line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..accounts.auth import User
from ..errors import DatasetError
from ..files import link_or_copy
from ..workspace import Workspace
from .catalog import Dataset, count_by_class, dataset_folder, dataset_lock, get_dataset, get_own_dataset, update_summary
from .manifest import INBOX, ImageEntry, inbox_change, leave_inbox, read_manifest, write_manifest

ID_LENGTH = 12


@dataclass(frozen=True)
class InboxPicture:
    id: str
    file: str  # relative to the dataset folder: inbox/<hash>.jpg
    original: str  # its name when it was uploaded
    added: float

    @classmethod
    def of(cls, entry: ImageEntry) -> "InboxPicture":
        return cls(entry.hash[:ID_LENGTH], entry.file, entry.original, entry.added)


def inbox_pictures(ws: Workspace, user: User, dataset_id: str) -> list[InboxPicture]:
    """The pictures waiting in the dataset's inbox, newest first (the owner's, or any for an admin)."""
    ds = get_dataset(ws, user, dataset_id)
    entries = read_manifest(dataset_folder(ws, ds), INBOX)
    return sorted((InboxPicture.of(e) for e in entries), key=lambda p: p.added, reverse=True)


def file_pictures(ws: Workspace, user: User, dataset_id: str, choices: dict[str, str]) -> Dataset:
    """Give inbox pictures their classes ({id: class}, classes of the dataset): one new dataset version."""
    if not choices:
        raise DatasetError("Choose a class for at least one picture first.")
    ds = get_own_dataset(ws, user, dataset_id)
    folder = dataset_folder(ws, ds)
    with dataset_lock(ws, ds):
        ds = get_own_dataset(ws, user, dataset_id)  # the classes as they are now, under the lock (another tab)
        unknown = sorted({c for c in choices.values() if c not in ds.classes})
        if unknown:
            raise DatasetError(f"There is no class called {unknown[0]!r} in this dataset.")
        waiting = read_manifest(folder, INBOX)
        chosen = _pick(waiting, choices)
        labelled = read_manifest(folder)
        there = {e.hash for e in labelled}
        if len(labelled) + len([e for e in chosen if e.hash not in there]) > ws.settings.max_images_per_dataset:
            raise DatasetError(f"The dataset would pass {ws.settings.max_images_per_dataset:,} pictures; "
                               "file fewer, or delete some first.")
        moved = []
        for e in chosen:
            target = replace(e, file=f"images/{Path(e.file).name}", label=choices[e.hash[:ID_LENGTH]])
            if e.hash not in there:
                _link(folder / e.file, folder / target.file)
                moved.append(target)
        entries = labelled + moved
        write_manifest(folder, entries)
        still = leave_inbox(folder, waiting, {e.hash for e in chosen})

        def change(doc):
            return {"counts": count_by_class(entries, doc["classes"]), "version": doc["version"] + (1 if moved else 0),
                    **inbox_change(doc, still)}

        return update_summary(ws, user, ds.id, change)


def discard_pictures(ws: Workspace, user: User, dataset_id: str, ids) -> Dataset:
    """Remove pictures from the inbox for good (the page asks first)."""
    ds = get_own_dataset(ws, user, dataset_id)
    folder = dataset_folder(ws, ds)
    with dataset_lock(ws, ds):
        waiting = read_manifest(folder, INBOX)
        still = leave_inbox(folder, waiting, {e.hash for e in _pick(waiting, {i: "" for i in ids})})
        return update_summary(ws, user, ds.id, lambda doc: inbox_change(doc, still))


def _pick(waiting: list[ImageEntry], ids: dict) -> list[ImageEntry]:
    by_id = {e.hash[:ID_LENGTH]: e for e in waiting}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise DatasetError(f"No picture {missing[0]!r} is waiting in this inbox (it may have been filed or "
                           "discarded already).")
    return [by_id[i] for i in ids]


def _link(source: Path, target: Path) -> None:
    """`target` becomes the same file as `source` (a hard link: no second copy on disk, else a copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    link_or_copy(source, target)
