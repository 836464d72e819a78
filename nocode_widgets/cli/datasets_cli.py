"""`nocode dataset import|list|show|delete`."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .. import datasets as D
from ..errors import NocodeError
from .common import add_common, emit, find_user_or_fail, open_workspace


def register(sub) -> None:
    p = sub.add_parser("dataset", help="manage datasets")
    cmds = p.add_subparsers(dest="dataset_command", required=True)

    imp = cmds.add_parser("import", help="import a zip or folder of class folders")
    _user_args(imp)
    imp.add_argument("--name", help="name of a new dataset (default: the file or folder name)")
    imp.add_argument("--into", metavar="DATASET", help="add to this existing dataset instead")
    imp.add_argument("path")
    imp.set_defaults(run=_import)

    lst = cmds.add_parser("list", help="list a user's datasets")
    _user_args(lst)
    lst.set_defaults(run=_list)

    for name, run, help_text in (("show", _show, "show one dataset"), ("delete", _delete, "delete a dataset")):
        c = cmds.add_parser(name, help=help_text)
        _user_args(c)
        c.add_argument("dataset", help="name or id")
        c.set_defaults(run=run)


def _user_args(p) -> None:
    add_common(p)
    p.add_argument("--user", required=True)


def dataset_json(ds: D.Dataset) -> dict:
    return {"id": ds.id, "name": ds.name, "classes": {c: ds.counts.get(c, 0) for c in ds.classes},
            "images": ds.image_count, "version": ds.version, "created": ds.created, "inbox": ds.inbox}


def _import(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    path = Path(args.path)
    if not path.exists():
        raise NocodeError(f"There is nothing at {path}.")
    into = D.find_dataset(ws, user, args.into).id if args.into else None
    name = args.name or path.stem
    if path.is_dir():
        report = D.import_folder(ws, user, path, name=name, dataset_id=into, any_path=True)
    elif zipfile.is_zipfile(path):
        report = D.import_archive(ws, user, path, name=name, dataset_id=into)
    else:
        raise NocodeError(f"{path} is neither a folder nor a zip archive.")
    lines = [f"{report.dataset_name} ({report.dataset_id}): {report.summary()}"]
    lines += [f"  skipped {s.name}: {s.reason}" for s in report.skipped + report.conflicts]
    emit(args, report.to_json(), "\n".join(lines))


def _list(args):
    ws = open_workspace(args)
    rows = D.list_datasets(ws, find_user_or_fail(ws, args.user))
    text = "\n".join(f"{d.name:<32} {d.image_count:>6} images  {len(d.classes)} classes  {d.id}" for d in rows)
    emit(args, [dataset_json(d) for d in rows], text or "No datasets yet.")


def _show(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    ds = D.find_dataset(ws, user, args.dataset)
    stats = D.dataset_stats(ws, user, ds.id)
    data = {**dataset_json(ds), "width": stats.width, "height": stats.height, "warnings": list(stats.warnings)}
    lines = [f"{ds.name} ({ds.id}), version {ds.version}"]
    lines += [f"  {c}: {ds.counts.get(c, 0)}" for c in ds.classes]
    lines += [f"  picture widths {stats.width[0]}-{stats.width[2]} (median {stats.width[1]})"]
    lines += [f"  ! {w}" for w in stats.warnings]
    emit(args, data, "\n".join(lines))


def _delete(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    ds = D.find_dataset(ws, user, args.dataset)
    D.delete_dataset(ws, user, ds.id)
    emit(args, {"deleted": ds.id}, f"Deleted {ds.name}.")
