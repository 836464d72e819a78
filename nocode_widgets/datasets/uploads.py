"""Uploaded files: in memory (the value of an `ipywidgets.FileUpload`, read in either shape without
importing ipywidgets: 8.x gives a tuple of dicts, 7.x a dict name -> {metadata, content}) or streamed
to a temp file by the page's chunked uploader (`path`), read only when ingested."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..accounts.quota import Reservation  # quota counts what is under the user's folder
from ..files import process_exists


@dataclass(frozen=True)
class UploadedFile:
    name: str
    content: bytes | None = None
    path: Path | None = None

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else Path(self.path).stat().st_size

    def read(self) -> bytes:
        return self.content if self.content is not None else Path(self.path).read_bytes()


def read_upload(value) -> list[UploadedFile]:
    if not value:
        return []
    if isinstance(value, dict):  # ipywidgets 7.x
        items = [(meta.get("metadata", {}).get("name", name), meta["content"]) for name, meta in value.items()]
    else:  # ipywidgets 8.x: tuple (or list) of dicts
        items = [(f["name"], f["content"]) for f in value]
    return [UploadedFile(str(name), bytes(content)) for name, content in items]


# Temp files of uploads still arriving ---------------------------------------------------------------------
# They live in the owner's folder (so they count toward their space), in a folder named after the process
# that receives them (`upload-<pid>-...`), and are removed on every way out: discarded by the page, at the
# process's exit, and by `sweep_uploads` once that process is gone or the folder has been idle an hour.

UPLOADS = ("tmp", "uploads")  # under a user's folder
UPLOAD_MAX_IDLE_S = 3600.0
_LIVE: set[Path] = set()  # this process's upload folders, removed at exit


def upload_root(ws, user_id: str) -> Path:
    return ws.settings.user_dir(user_id).joinpath(*UPLOADS)


class UploadFolder:
    """One upload's temp folder in its owner's space. `nbytes` are reserved before the folder is made
    (QuotaError when there is no room), more with `claim`; `arrived()` ends the reservation once the files
    are whole (they are on disk, and counted there); `discard()` removes everything."""

    CLAIM_AHEAD = 2 * 2**20

    def __init__(self, ws, user_id: str, nbytes: int = 0, reserve: bool = True):
        """`reserve=False`: files that are read and removed at once (pictures to test a model on), bounded
        by the upload limit rather than the person's space, so a full space does not stop testing."""
        root = upload_root(ws, user_id)
        sweep_folder(root)  # where no server sweeps (JupyterLab, Colab): a killed kernel's leftovers
        self.reservation = Reservation(ws, user_id)
        if reserve:
            self.reservation.claim(nbytes)
        self.written = 0
        try:
            root.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f"upload-{os.getpid()}-", dir=root))
        except BaseException:
            self.reservation.release()
            raise
        _LIVE.add(self.path)

    def claim(self, total: int, ahead: bool = False) -> None:
        """Reserve room for `total` bytes in all (QuotaError when the person's space has no room)."""
        self.reservation.claim(total, written=self.written, extra=self.CLAIM_AHEAD if ahead else 0)

    def arrived(self) -> None:
        self.reservation.release()

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        _LIVE.discard(self.path)
        self.reservation.release()


def sweep_uploads(data_dir: Path, max_idle_s: float = UPLOAD_MAX_IDLE_S) -> int:
    """Remove the upload folders of processes that are gone, and any idle for `max_idle_s`, in everyone's
    folder (the server does this when it starts and every few minutes). Returns how many were removed."""
    shutil.rmtree(Path(data_dir) / "tmp" / "uploads", ignore_errors=True)  # where earlier versions kept them
    return sum(sweep_folder(root, max_idle_s) for root in Path(data_dir).glob("users/*/" + "/".join(UPLOADS)))


def sweep_folder(root: Path, max_idle_s: float = UPLOAD_MAX_IDLE_S) -> int:
    """The same in one person's upload folder."""
    removed, now = 0, time.time()
    for folder in Path(root).glob("upload-*"):
        pid = folder.name.split("-")[1]
        try:
            if not (pid.isdigit() and process_exists(int(pid))) or now - _last_change(folder) > max_idle_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:  # removed meanwhile by its own process
            continue
    return removed


def _last_change(folder: Path) -> float:
    times = [folder.stat().st_mtime] if folder.exists() else [0.0]
    for p in folder.rglob("*"):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times)


@atexit.register
def _remove_live_folders() -> None:
    for path in list(_LIVE):
        shutil.rmtree(path, ignore_errors=True)
