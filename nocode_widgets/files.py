"""Crash-safe file writes: temp file in the same folder, fsync, `os.replace`, fsync the folder.
A reader (or a restart after a crash) sees the old content or the new, never half of it."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path


def write_atomic(path: Path, data: bytes, min_mtime_ns: int | None = None) -> None:
    """`min_mtime_ns`: the new file's mtime is at least this (a reader caching by mtime sees it changed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if min_mtime_ns is not None:
                now = max(time.time_ns(), min_mtime_ns)
                os.utime(f.fileno(), ns=(now, now))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json_atomic(path: Path, data, min_mtime_ns: int | None = None) -> None:
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), min_mtime_ns)


def read_json(path: Path, default=None):
    """The JSON in `path`, or `default` when it does not exist (yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def remove_tree_and_empty_parents(folder: Path, stop: Path) -> None:
    """Remove `folder`, then each parent left empty, up to (not including) `stop`."""
    shutil.rmtree(folder, ignore_errors=True)
    for parent in Path(folder).parents:
        if parent == stop or not parent.is_relative_to(stop):
            break
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break


def sweep_stale_temp_files(folder: Path, max_age_s: float = 3600.0) -> int:
    """Remove `*.tmp` files under `folder` left by a crash (untouched for `max_age_s`). Returns how many."""
    removed, now = 0, time.time()
    for path in Path(folder).rglob("*.tmp"):
        try:
            if now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine (whoever's it is); a zombie has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def safe_file_name(name: str, fallback: str = "file", max_length: int = 80) -> str:
    """`name` as one plain file name: letters (any script), digits, `.`, `-` and `_` only, no leading dot,
    at most `max_length` characters; `fallback` when nothing is left. A name a person typed never becomes
    a path (`../x`, `/etc/x`, `a/b`)."""
    cleaned = re.sub(r"[^\w.-]+", "-", str(name)).strip(".-_ ")[:max_length].rstrip(".-_ ")
    return cleaned or fallback


def link_or_copy(source: Path, target: Path) -> None:
    """`target` becomes the same file as `source`: a hard link (no second copy on disk), else a copy (another
    file system). Safe for our files, which are never changed in place, only replaced or removed."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
