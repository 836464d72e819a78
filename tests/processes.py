"""The processes of this machine as the tests look for them (Linux's /proc; nothing elsewhere)."""

from __future__ import annotations

import os
from typing import Iterator


def processes() -> Iterator[tuple[int, list[str], bytes]]:
    """(pid, its stat fields after the name — state, ppid, pgrp, session, … — and its command line) of every
    process that is not a zombie."""
    if not os.path.isdir("/proc"):
        return
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].decode().split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError):
            continue
        if fields and fields[0] != "Z":
            yield int(pid), fields, cmdline


def kernels_of(data_dir) -> list[int]:
    """Page kernels serving this data folder (kernel processes whose environment names it)."""
    wanted = f"NOCODE_DATA_DIR={data_dir}".encode()
    found = []
    for pid, _, cmdline in processes():
        if b"ipykernel_launcher" not in cmdline:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            continue
    return found
