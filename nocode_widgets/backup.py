"""Backups of a data folder that run while the app runs and training goes on, and restoring one into an
empty folder.

A backup is a tar file (`.tar.gz` or `.tgz`: compressed). The store's files are copied under all of its
locks at once (the accounts first, then every person's), so the records are one consistent moment; the
pictures and runs are copied after, without holding anything: a finished run's files no longer change. What
the app can make again is left out: picture caches, upload temp files, locks, the space ledgers, the
store's indexes (rebuilt on restore). A run still training at backup time is restored as interrupted, with
its best epoch so far."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import NocodeError
from .migrations import rebuild_indexes
from .runs.records import INTERRUPTED
from .store import ID_SHAPE, Table
from .workspace import Workspace

SKIPPED_DIRS = {"cache", "tmp", "store", "slots", "space"}  # made again by the app
MANIFEST = "nocode-backup.txt"


class BackupError(NocodeError):
    """A backup that cannot be made or restored as asked."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    files: int
    bytes: int
    seconds: float


def _store_files(ws: Workspace) -> dict[str, bytes]:
    """The store's own files as they are at one moment: read under every one of its locks."""
    store, root = ws.store, ws.settings.data_dir
    with ExitStack() as stack:
        stack.enter_context(store._locked(store._lock))
        for owner in sorted(p.parent.name for p in (root / "users").glob("*/records.json")):
            stack.enter_context(store._locked(store._lock_of(owner)))
        files = {"nocode.json": store.path.read_bytes()} if store.path.exists() else {}
        for path in sorted((root / "users").glob("*/records.json")):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _data_files(root: Path):
    """Every picture and run file under the users' folders, but what the app can make again."""
    for path in sorted((root / "users").rglob("*")):
        rel = path.relative_to(root)
        if (set(rel.parts[:-1]) & SKIPPED_DIRS or path.name == "records.json" or path.suffix in (".lock", ".tmp")
                or not path.is_file()):
            continue
        yield path, rel.as_posix()


def backup(ws: Workspace, out: Path, store_only: bool = False) -> BackupReport:
    """Write a backup of the data folder to `out` (a new file)."""
    started, out = time.time(), Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name.")
    root = ws.settings.data_dir.resolve()
    if out.resolve().is_relative_to(root):
        raise BackupError("Write the backup outside the data folder it backs up.")
    mode = "w:gz" if out.name.endswith((".tar.gz", ".tgz")) else "w"
    count = size = 0
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, mode, compresslevel=1) if mode == "w:gz" else tarfile.open(partial, mode) as tar:
        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))

        add_bytes(MANIFEST, f"nocode_widgets backup of {root}\nmade {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                  f"{'store only' if store_only else 'store, pictures and runs'}\n".encode())
        for name, data in _store_files(ws).items():
            add_bytes(name, data)
            count, size = count + 1, size + len(data)
        if not store_only:
            for path, name in _data_files(root):
                try:
                    with path.open("rb") as f:  # opened first: the size is that of the file read
                        info = tar.gettarinfo(arcname=name, fileobj=f)
                        # an ensemble's hard-linked files travel as files of their own, whole
                        info.type, info.linkname, info.size = tarfile.REGTYPE, "", os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)
                except FileNotFoundError:  # removed while we walked (a run deleted meanwhile)
                    continue
                count, size = count + 1, size + info.size
    partial.replace(out)
    return BackupReport(out, count, size, round(time.time() - started, 2))


def _allowed(name: str) -> bool:
    """What a backup may hold: the accounts file and what is under a person's folder, nothing else."""
    parts = PurePosixPath(name).parts
    return (name == "nocode.json" or (len(parts) >= 3 and parts[0] == "users" and ID_SHAPE.match(parts[1])
                                      and not set(parts) & SKIPPED_DIRS and not name.endswith(".lock")))


def restore(archive: Path, data_dir: Path) -> Workspace:
    """Unpack a backup into `data_dir`, which must be empty (or not exist yet), and open it there. It is
    unpacked beside it first and moved into place whole, so a failed restore leaves nothing half-done."""
    archive, data_dir = Path(archive), Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty. Restore into a new, empty folder.")
    try:
        tar = tarfile.open(archive)
    except (OSError, tarfile.TarError):
        raise BackupError(f"{archive} is not a backup made by `nocode backup`.") from None
    with tar:
        members = tar.getmembers()
        if MANIFEST not in {m.name for m in members}:
            raise BackupError(f"{archive} is not a backup made by `nocode backup`.")
        files = [m for m in members if m.name != MANIFEST and not m.isdir()]
        bad = next((m.name for m in files if not (m.isreg() and _allowed(m.name))), None)
        if bad is not None:
            raise BackupError(f"{archive} holds something a backup of this app never holds ({bad[:200]}).")
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        if sum(m.size for m in files) > shutil.disk_usage(data_dir.parent).free * 0.9:
            raise BackupError("There is not enough free disk space to restore this backup here.")
        unpacking = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}-restoring-", dir=data_dir.parent))
        try:
            for m in files:
                target = unpacking / m.name
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 2**20)
            if data_dir.exists():
                data_dir.rmdir()  # empty, checked above
            unpacking.replace(data_dir)
        except BaseException:
            shutil.rmtree(unpacking, ignore_errors=True)
            raise
    ws = Workspace.open(data_dir)  # an older store is migrated here

    rebuild_indexes(ws.store)
    _interrupt_what_was_training(ws)
    return ws


def _interrupt_what_was_training(ws: Workspace) -> None:
    """A run that had a worker at backup time has none here: interrupted, keeping its best epoch so far.
    A run still waiting for a worker waits here too."""
    for doc in ws.store.watched(Table.RUNS):
        if doc["status"] == "running" or doc.get("launched"):
            ws.store.update(Table.RUNS, doc["id"], {"status": "interrupted", "error": INTERRUPTED,
                                                    "finished": time.time()})
