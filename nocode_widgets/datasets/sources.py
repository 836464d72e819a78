"""Where pictures come from: a zip of class folders, a server folder of class folders, or files
uploaded into one class. Each source yields `Item`s; archive names are parsed for the class name
only and never used as paths, so nothing can be written outside the dataset folder."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from ..errors import DatasetError

JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
JUNK_FOLDERS = {"__macosx", ".ipynb_checkpoints", ".git", "__pycache__"}
CHUNK = 1 << 20


@dataclass
class Item:
    """One file to ingest. `read()` returns its bytes or raises `TooLarge`; `problem` is set for
    an entry refused before reading (unsafe path, zip bomb, not in a class folder)."""

    name: str
    label: str | None
    read: Callable[[], bytes] | None = None
    problem: str | None = None


class TooLarge(Exception):
    pass


@dataclass
class Source:
    """The entries of an archive or folder (their bytes are read lazily) and how many junk files were
    passed over. Close it when done (it may hold the archive open)."""

    items: list[Item]
    ignored: int
    close: Callable[[], None] = lambda: None


def is_junk(parts: list[str]) -> bool:
    name = parts[-1].lower()
    return (name in JUNK_NAMES or name.startswith("._") or name.startswith(".")
            or any(p.lower() in JUNK_FOLDERS for p in parts[:-1]))


def _safe_parts(name: str) -> list[str] | None:
    """The folder/file parts of an archive name, or None if it tries to climb out or is absolute."""
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    return None if ".." in parts else parts


def _labels(paths: list[list[str]], unsorted: bool = False) -> list[str | None]:
    """Class per entry: the first folder, or the second when one top folder wraps them all ("" for every
    entry when `unsorted`)."""
    if unsorted:
        return [""] * len(paths)
    deep = [p for p in paths if len(p) >= 2]
    tops = {p[0] for p in deep}
    wrapped = len(tops) == 1 and all(len(p) >= 3 for p in deep) and bool(deep)
    depth = 1 if wrapped else 0
    return [p[depth] if len(p) >= depth + 2 else None for p in paths]


def zip_source(file, max_entry_bytes: int, max_total_bytes: int, max_ratio: int, unsorted: bool = False) -> Source:
    """The entries of a zip archive (a path or a binary file object). Sizes are capped while
    streaming each entry: the sizes an archive declares can lie. `unsorted`: every picture, in folders or
    not, with no class (label "": for a dataset's inbox)."""
    try:
        archive = zipfile.ZipFile(file)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError):
        raise DatasetError("This file is not a zip archive (or it is damaged).") from None
    entries, junk = [], 0
    for info in infos:
        if info.is_dir():
            continue
        parts = _safe_parts(info.filename)
        if parts and is_junk(parts):
            junk += 1
            continue
        entries.append((info, parts))
    label_of = iter(_labels([p for _, p in entries if p], unsorted))
    budget = [max_total_bytes]
    items = []
    for info, parts in entries:
        if parts is None:
            items.append(Item(info.filename, None, problem="unsafe path in the archive (ignored)"))
            continue
        label = next(label_of)
        if label is None:
            items.append(Item(info.filename, None, problem="not inside a class folder"))
        elif info.compress_size and info.file_size / info.compress_size > max_ratio and info.file_size > CHUNK:
            items.append(Item(info.filename, label, problem="compressed suspiciously well (possible zip bomb)"))
        else:
            read = lambda i=info: _read_capped(archive, i, max_entry_bytes, budget)  # noqa: E731
            items.append(Item(info.filename, label, read=read))
    return Source(items, junk, archive.close)


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_entry: int, budget: list[int]) -> bytes:
    chunks, size = [], 0
    with archive.open(info) as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if size > max_entry:
                raise TooLarge(f"the file is larger than {max_entry // (1 << 20)} MB when unpacked")
            if size > budget[0]:
                raise TooLarge("the archive unpacks to more than the allowed total size")
            chunks.append(chunk)
    budget[0] -= size
    return b"".join(chunks)


def folder_source(root: Path, max_entry_bytes: int, unsorted: bool = False) -> Source:
    """The files of a folder of class folders (any files, with no class, when `unsorted`). Links are not
    followed out of `root`."""
    root = root.resolve()
    if not root.is_dir():
        raise DatasetError(f"There is no folder at {root}.")
    files, junk = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        parts = list(path.relative_to(root).parts)
        if is_junk(parts):
            junk += 1
        else:
            files.append((path, parts))
    items = []
    for (path, parts), label in zip(files, _labels([p for _, p in files], unsorted)):
        name = "/".join(parts)
        if not path.resolve().is_relative_to(root):
            items.append(Item(name, None, problem="a link that points outside the folder (ignored)"))
        elif label is None:
            items.append(Item(name, None, problem="not inside a class folder"))
        elif path.stat().st_size > max_entry_bytes:
            items.append(Item(name, label, problem=f"the file is larger than {max_entry_bytes // (1 << 20)} MB"))
        else:
            items.append(Item(name, label, read=path.read_bytes))
    return Source(items, junk)


def check_import_root(path: Path, roots: tuple[Path, ...] | None) -> Path:
    """`path` resolved, if it lies under one of `roots` (None: any readable path, for the CLI)."""
    resolved = Path(path).expanduser().resolve()
    if roots is not None and not any(resolved.is_relative_to(Path(r).resolve()) for r in roots):
        raise DatasetError("Importing from that folder is not allowed here. Ask an administrator to add it "
                           "to the import folders, or upload a zip instead.")
    return resolved
