"""`nocode backup` and `nocode restore`: a consistent copy of a data folder while the app runs, and
putting one back into an empty folder."""

from __future__ import annotations

from pathlib import Path

from .common import add_common, emit, open_workspace


def register(sub) -> None:
    b = sub.add_parser("backup", help="back up the data folder (while the app runs) into a tar file")
    add_common(b)
    b.add_argument("--out", required=True, help="the new backup file (.tar, or .tar.gz to compress)")
    b.add_argument("--store-only", action="store_true", help="only accounts and records, no pictures or models")
    b.set_defaults(run=_backup)
    r = sub.add_parser("restore", help="restore a backup into an empty data folder (--data-dir)")
    add_common(r)
    r.add_argument("file", help="a file made by `nocode backup`")
    r.set_defaults(run=_restore)


def _backup(args):
    from ..backup import backup

    report = backup(open_workspace(args), Path(args.out), store_only=args.store_only)
    emit(args, {"file": str(report.path), "files": report.files, "bytes": report.bytes, "seconds": report.seconds},
         f"Backed up {report.files} files ({report.bytes / 2**20:.1f} MB) to {report.path} in {report.seconds} s.")


def _restore(args):
    from ..backup import restore
    from ..config import Settings

    target = Settings.from_env(data_dir=args.data_dir).data_dir
    ws = restore(Path(args.file), target)
    emit(args, {"data_dir": str(ws.settings.data_dir)}, f"Restored into {ws.settings.data_dir}.")
