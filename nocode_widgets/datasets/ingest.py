"""Adding pictures to a dataset: from files uploaded into a class, a zip of class folders, or a
server folder. All three end in the same pipeline and the same report: every file is accepted or
skipped with a plain reason; good files are kept when bad ones sit beside them.

Pictures are decoded on a small thread pool (PIL releases the GIL) while the main thread reads the
next entries, with a bounded window so memory does not grow with the archive. The main thread writes
image files as they come (content-hash names, so a retry rewrites the same file), counting bytes
against the owner's quota; the manifest and the store summary change once, at the end, under the
dataset's lock. An import that fails half-way (quota, a deleted dataset or account, an error)
removes the files it wrote, and a deleted dataset's folder never comes back.
"""

from __future__ import annotations

import io
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..accounts.auth import User
from ..errors import DatasetError
from ..files import remove_tree_and_empty_parents, write_atomic
from ..accounts.quota import QuotaError, Reservation, check_room, human_bytes, reserved
from ..store import Table
from .uploads import UploadedFile, upload_root
from ..workspace import Workspace
from .images import ImageRejected, normalize_image
from .manifest import INBOX, MANIFEST, ImageEntry, inbox_change, leave_inbox, read_manifest, write_manifest
from .catalog import (Dataset, _key, clean_name, count_by_class, create_dataset, dataset_folder, dataset_lock,
                      delete_dataset, get_own_dataset, update_summary)
from .sources import Item, Source, TooLarge, check_import_root, folder_source, zip_source

Progress = Callable[[int, int], None]
INBOX_FOLDER = "inbox"  # a dataset's unsorted pictures, beside images/


@dataclass
class Skipped:
    name: str
    reason: str


@dataclass
class IngestReport:
    dataset_id: str
    dataset_name: str
    accepted: int = 0
    duplicates: list[str] = field(default_factory=list)  # already in the class: stored once
    conflicts: list[Skipped] = field(default_factory=list)  # the same picture is in another class
    skipped: list[Skipped] = field(default_factory=list)
    ignored: int = 0  # system junk (__MACOSX, .DS_Store, ...) skipped without a word
    counts: dict = field(default_factory=dict)
    into: str = "dataset"  # or "inbox": unsorted pictures waiting for a class
    inbox: int = 0  # pictures waiting in the inbox afterwards

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        where = " to the inbox" if self.into == "inbox" else ""
        parts = [f"{self.accepted} picture{'s' if self.accepted != 1 else ''} added{where}"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already there (kept once)")
        if self.conflicts:
            parts.append(f"{len(self.conflicts)} already in another class (not added)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts) + "."


@dataclass
class _Decoded:
    item: Item
    entry: ImageEntry | None = None
    reason: str | None = None
    data: bytes | None = None  # the normalized picture, written by the ingest loop


class _Writer:
    """Writes the decoded pictures into the dataset folder within the space reserved for them (claimed a
    few MB at a time, so parallel imports of one person share the room), and can take back what it wrote."""

    CLAIM_AHEAD = 8 * 2**20

    def __init__(self, folder: Path, reservation: Reservation):
        self.folder, self.reservation = folder, reservation
        self.written: list[Path] = []
        self.bytes = 0

    def write(self, result: _Decoded) -> None:
        if result.entry is None:
            return
        target = self.folder / result.entry.file
        if not target.exists():
            try:
                self.reservation.claim(self.bytes + len(result.data), written=self.bytes, extra=self.CLAIM_AHEAD)
            except QuotaError:
                raise QuotaError(f"Your space ran out after {len(self.written)} new pictures "
                                 f"({human_bytes(self.reservation.room)} were left), so nothing "
                                 "was added. Delete runs or datasets you no longer need, or ask an "
                                 "administrator.") from None
            write_atomic(target, result.data)
            self.written.append(target)
            self.bytes += len(result.data)
        result.data = None

    def undo(self, keep: set[str] = frozenset()) -> None:
        """Remove what this import wrote, but not the files in `keep` (relative paths something records)."""
        for path in self.written:
            if path.relative_to(self.folder).as_posix() not in keep:
                path.unlink(missing_ok=True)


def add_uploads(ws: Workspace, user: User, dataset_id: str, label: str, files: list[UploadedFile],
                progress: Progress | None = None) -> IngestReport:
    """Pictures uploaded (ipywidgets FileUpload) into one existing class."""
    ds = get_own_dataset(ws, user, dataset_id)
    if label not in ds.classes:
        raise DatasetError(f"There is no class called {label!r} in this dataset.")
    _check_upload_size(ws, sum(f.size for f in files))
    credit = _credit(ws, ds.owner, [f.path for f in files if f.path is not None])
    check_room(ws, ds.owner, 1, credit)
    items = [Item(f.name, label, read=f.read) for f in files]
    return _ingest(ws, user, ds, iter(items), len(items), 0, progress, credit)


def import_archive(ws: Workspace, user: User, file, name: str | None = None, dataset_id: str | None = None,
                   progress: Progress | None = None) -> IngestReport:
    """A zip of class folders (`cats/a.jpg`, or `pets/cats/a.jpg`): into a new dataset called
    `name`, or added to `dataset_id`. A path, bytes-like file object, or raw bytes."""
    s = ws.settings
    credit = 0
    if isinstance(file, (str, Path)):
        _check_upload_size(ws, Path(file).stat().st_size)
        credit = _credit(ws, user.id, [Path(file)])
    elif hasattr(file, "getbuffer"):
        _check_upload_size(ws, file.getbuffer().nbytes)
    source = zip_source(file, s.max_image_file_bytes, s.max_zip_uncompressed_bytes, s.max_zip_ratio)
    try:
        return _import(ws, user, source, name, dataset_id, progress, credit)
    finally:
        source.close()


def import_folder(ws: Workspace, user: User, path, name: str | None = None, dataset_id: str | None = None,
                  any_path: bool = False, progress: Progress | None = None) -> IngestReport:
    """A server folder of class folders. Only under the settings' import roots unless `any_path`
    (the CLI, which can read what its own user can)."""
    root = check_import_root(Path(path), None if any_path else ws.settings.import_roots)
    return _import(ws, user, folder_source(root, ws.settings.max_image_file_bytes), name, dataset_id, progress)


def add_to_inbox(ws: Workspace, user: User, dataset_id: str, files: list[UploadedFile],
                 progress: Progress | None = None) -> IngestReport:
    """Unsorted pictures into the dataset's inbox: picture files, or zips of pictures in any folders (or
    none). They count in the owner's space but are not training data until they get a class (`inbox.py`)."""
    ds = get_own_dataset(ws, user, dataset_id)
    _check_upload_size(ws, sum(f.size for f in files))
    credit = _credit(ws, ds.owner, [f.path for f in files if f.path is not None])
    check_room(ws, ds.owner, 1, credit)
    sources = [_unsorted_zip(ws, f) if _is_zip(f) else Source([Item(f.name, "", read=f.read)], 0) for f in files]
    return _ingest_sources(ws, user, ds, sources, progress, credit)


def add_paths_to_inbox(ws: Workspace, user: User, dataset_id: str, paths, progress: Progress | None = None) -> IngestReport:
    """The same from paths the caller can read (the CLI): pictures, zips, or folders of pictures."""
    ds = get_own_dataset(ws, user, dataset_id)
    sources = []
    for path in map(Path, paths):
        if path.is_dir():
            sources.append(folder_source(path, ws.settings.max_image_file_bytes, unsorted=True))
        elif not path.is_file():
            raise DatasetError(f"There is no file or folder at {path}.")
        elif _is_zip(UploadedFile(path.name, path=path)):
            _check_upload_size(ws, path.stat().st_size)
            sources.append(_unsorted_zip(ws, path))
        else:
            sources.append(Source([Item(str(path), "", read=path.read_bytes)], 0))
    check_room(ws, ds.owner, 1)
    return _ingest_sources(ws, user, ds, sources, progress)


def _is_zip(f: UploadedFile) -> bool:
    if f.name.lower().endswith(".zip"):
        return True
    if f.content is not None:
        return f.content[:4] == b"PK\x03\x04"
    with Path(f.path).open("rb") as stream:
        return stream.read(4) == b"PK\x03\x04"


def _unsorted_zip(ws: Workspace, file) -> Source:
    s = ws.settings
    if isinstance(file, UploadedFile):
        file = file.path if file.path is not None else io.BytesIO(file.content)
    return zip_source(file, s.max_image_file_bytes, s.max_zip_uncompressed_bytes, s.max_zip_ratio, unsorted=True)


def _ingest_sources(ws, user, ds: Dataset, sources: list[Source], progress, credit: int = 0) -> IngestReport:
    try:
        limit = ws.settings.max_inbox_pictures
        if get_own_dataset(ws, user, ds.id).inbox >= limit:
            raise DatasetError(f"The inbox is full ({limit:,} pictures at most). File or discard some first.")
        items = [item for source in sources for item in source.items]
        return _ingest(ws, user, ds, iter(items), len(items), sum(s.ignored for s in sources), progress, credit,
                       inbox=True)
    finally:
        for source in sources:
            source.close()


def _credit(ws: Workspace, owner_id: str, paths: list[Path]) -> int:
    """Bytes of the source files that are the owner's upload temp files (removed once imported, and counted
    in their space while they exist): the import may reuse that room."""
    uploads = upload_root(ws, owner_id).resolve()
    return sum(p.stat().st_size for p in map(Path, paths) if p.resolve().is_relative_to(uploads) and p.is_file())


def _import(ws, user, source: Source, name, dataset_id, progress, credit: int = 0) -> IngestReport:
    items, junk, total = source.items, source.ignored, len(source.items)
    labels = sorted({i.label for i in items if i.label and not i.problem}, key=str.casefold)
    if not labels:
        raise DatasetError("No pictures inside class folders were found. Put each class's pictures in a folder "
                           "named after the class (cats/a.jpg, dogs/b.jpg) and zip those folders.")
    if dataset_id is None:
        check_room(ws, user.id, 1, credit)
        if len(labels) < 2:
            raise DatasetError(f"Only one class was found ({labels[0]!r}). A dataset needs at least two classes, "
                               "each in its own folder.")
        ds = create_dataset(ws, user, name or "My dataset", labels)
        try:
            report = _ingest(ws, user, ds, iter(items), total, junk, progress, credit)
        except BaseException:
            delete_dataset(ws, user, ds.id)
            raise
        usable = [c for c, n in report.counts.items() if n > 0]
        if len(usable) < 2:
            delete_dataset(ws, user, ds.id)
            raise DatasetError("Fewer than two classes had usable pictures, so no dataset was made. "
                               + _skipped_brief(report))
        return report
    ds = get_own_dataset(ws, user, dataset_id)
    by_key = {_key(c): c for c in ds.classes}
    for item in items:  # a folder `Cats` goes into an existing class `cats`
        if item.label:
            item.label = by_key.get(_key(item.label), clean_name(item.label, "class"))
    return _ingest(ws, user, ds, iter(items), total, junk, progress, credit)


def _skipped_brief(report: IngestReport) -> str:
    if not report.skipped:
        return ""
    shown = "; ".join(f"{s.name}: {s.reason}" for s in report.skipped[:3])
    more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
    return f"Skipped: {shown}{more}."


def _check_upload_size(ws: Workspace, size: int) -> None:
    limit = ws.settings.max_upload_bytes
    if size > limit:
        raise DatasetError(f"That upload is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB at a time. "
                           "Upload fewer files at once, or a zip in parts.")


def _ingest(ws, user, ds: Dataset, items: Iterator[Item], total: int, junk: int, progress,
            credit: int = 0, inbox: bool = False) -> IngestReport:
    """Decode, check and store `items` in the dataset (or, with `inbox`, in its inbox of unsorted pictures)."""
    with reserved(ws, ds.owner, credit=credit) as reservation:
        return _ingest_within(ws, user, ds, items, total, junk, progress,
                              _Writer(dataset_folder(ws, ds), reservation), inbox)


def _ingest_within(ws, user, ds: Dataset, items: Iterator[Item], total: int, junk: int, progress,
                   writer: _Writer, inbox: bool) -> IngestReport:
    report = IngestReport(ds.id, ds.name, ignored=junk, into="inbox" if inbox else "dataset")
    folder = writer.folder
    shelf = INBOX_FOLDER if inbox else "images"
    (folder / shelf).mkdir(parents=True, exist_ok=True)
    decoded, recorded = [], False
    try:
        for i, result in enumerate(_decode_all(ws, items, shelf), 1):
            writer.write(result)
            decoded.append(result)
            if progress:
                progress(i, total)
            if i % 32 == 0:
                _check_still_there(ws, ds)
        _check_still_there(ws, ds)
        with dataset_lock(ws, ds):
            for result in decoded:  # a picture already on disk, removed meanwhile (discarded, deleted): not kept
                if result.entry is not None and not (folder / result.entry.file).exists():
                    result.entry, result.reason = None, "it was removed while this upload ran; add it again"
            entries, change = (_file_unsorted if inbox else _file_sorted)(ws, folder, decoded, report)
            recorded = True
            referenced = {e.file for e in entries}
            for path in writer.written:  # files written for pictures that were not kept (dataset full)
                if path.relative_to(folder).as_posix() not in referenced:
                    path.unlink(missing_ok=True)
            ds = update_summary(ws, user, ds.id, change)
    except BaseException:
        if not recorded:
            with dataset_lock(ws, ds):  # never a file another import or a filing recorded meanwhile
                writer.undo({e.file for name in (MANIFEST, INBOX) for e in read_manifest(folder, name)})
        if ws.store.get(Table.DATASETS, ds.id) is None:  # deleted meanwhile (or its account): leave no trace
            remove_tree_and_empty_parents(folder, ws.settings.data_dir)
        raise
    report.counts, report.inbox = dict(ds.counts), ds.inbox
    return report


def _file_sorted(ws, folder: Path, decoded: list[_Decoded], report: IngestReport):
    """Add the pictures to the manifest (under the dataset's lock). A picture that was waiting in the inbox
    leaves it: it is sorted now. Returns (the entries that reference files, the summary's change)."""
    existing = read_manifest(folder)
    limit = ws.settings.max_images_per_dataset
    added = _sort_out(decoded, {e.hash: e.label for e in existing}, limit - len(existing), report,
                      f"the dataset is full ({limit:,} pictures at most)")
    entries = existing + added
    write_manifest(folder, entries)
    waiting = read_manifest(folder, INBOX)
    still = leave_inbox(folder, waiting, {e.hash for e in added})

    def change(doc):
        classes = doc["classes"] + [c for c in dict.fromkeys(e.label for e in added) if c not in doc["classes"]]
        fields = {"classes": classes, "counts": count_by_class(entries, classes),
                  "version": doc["version"] + (1 if added else 0)}
        if len(still) < len(waiting):
            fields.update(inbox_change(doc, still))
        return fields

    return entries, change


def _file_unsorted(ws, folder: Path, decoded: list[_Decoded], report: IngestReport):
    """Add the pictures to the inbox (under the dataset's lock): a picture already in a class is not added."""
    waiting = read_manifest(folder, INBOX)
    known = {e.hash: e.label for e in read_manifest(folder)} | {e.hash: "" for e in waiting}
    limit = ws.settings.max_inbox_pictures
    added = _sort_out(decoded, known, limit - len(waiting), report, f"the inbox is full ({limit:,} pictures at most)")
    entries = waiting + added
    write_manifest(folder, entries, INBOX)

    def change(doc):
        return {"inbox": len(entries), "inbox_version": doc.get("inbox_version", 0) + (1 if added else 0)}

    return entries, change


def _check_still_there(ws: Workspace, ds: Dataset) -> None:
    if ws.store.get(Table.DATASETS, ds.id) is None:
        raise DatasetError("The dataset was deleted while pictures were being added, so nothing was kept.")


def _sort_out(decoded: list[_Decoded], known: dict, room: int, report: IngestReport, full: str) -> list[ImageEntry]:
    """Decide for each decoded picture: added, duplicate, conflict, or skipped. `known`: hash -> label of the
    pictures already there ("" in the inbox); `room`: how many more fit, else `full` says why."""
    where = dict(known)
    added = []
    for r in decoded:
        if r.entry is None:
            report.skipped.append(Skipped(r.item.name, r.reason))
        elif where.get(r.entry.hash) == r.entry.label:
            report.duplicates.append(r.item.name)
        elif r.entry.hash in where:
            report.conflicts.append(Skipped(r.item.name, f"the same picture is already in class {where[r.entry.hash]!r}"
                                            if where[r.entry.hash] else "the same picture is waiting in the inbox"))
        elif room <= 0:
            report.skipped.append(Skipped(r.item.name, full))
        else:
            where[r.entry.hash] = r.entry.label
            added.append(r.entry)
            room -= 1
    report.accepted = len(added)
    return added


def _decode_all(ws: Workspace, items: Iterable[Item], shelf: str = "images") -> Iterator[_Decoded]:
    """Decode in parallel, in order, with at most a few pictures in flight."""
    workers = max(1, min(4, os.cpu_count() or 1))
    window: deque[Future] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
        for item in items:
            window.append(pool.submit(_decode_one, ws, item, shelf))
            if len(window) >= 4 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _decode_one(ws: Workspace, item: Item, shelf: str) -> _Decoded:
    if item.problem:
        return _Decoded(item, reason=item.problem)
    s = ws.settings
    try:
        raw = item.read()
        if len(raw) > s.max_image_file_bytes:
            raise TooLarge(f"the file is larger than {s.max_image_file_bytes // 2**20} MB")
        image = normalize_image(raw, s.image_max_side, s.max_image_pixels)
    except (ImageRejected, TooLarge) as exc:
        return _Decoded(item, reason=str(exc))
    except Exception as exc:  # a read error in the archive: this file only
        return _Decoded(item, reason=f"could not be read ({type(exc).__name__})")
    rel = f"{shelf}/{image.hash[:32]}.jpg"
    entry = ImageEntry(rel, item.label, image.hash, item.name, image.width, image.height, len(raw), time.time())
    return _Decoded(item, entry=entry, data=image.data)
