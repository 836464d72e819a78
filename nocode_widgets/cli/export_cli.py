"""`nocode export`: a trained run's model bundle (model.onnx, model.json, model card, predict.py,
README, and the zip of them) written to a folder."""

from __future__ import annotations

from pathlib import Path

from .common import add_common, emit, find_user_or_fail, open_workspace


def register(sub) -> None:
    p = sub.add_parser("export", help="write a trained run's model bundle (ONNX, predict.py, model card) to a folder")
    add_common(p)
    p.add_argument("--user", required=True)
    p.add_argument("--run", required=True, dest="run_id")
    p.add_argument("--out", required=True, help="folder to write into (created if needed)")
    p.add_argument("--notebook", action="store_true",
                   help="instead: a notebook that reproduces the run in plain PyTorch (eject to code)")
    p.set_defaults(run=_export)


def _export(args):
    from ..export.bundle import write_bundle

    ws = open_workspace(args)
    if args.notebook:
        from ..export.eject import write_notebook

        path = write_notebook(ws, find_user_or_fail(ws, args.user), args.run_id, Path(args.out))
        emit(args, {"notebook": str(path.resolve())}, f"Wrote {path.resolve()}")
        return
    bundle, zip_path = write_bundle(ws, find_user_or_fail(ws, args.user), args.run_id, Path(args.out))
    out = Path(args.out).resolve()
    emit(args, {"folder": str(out), "zip": str(zip_path.resolve()), "files": list(bundle.files)},
         f"Wrote {', '.join(bundle.files)} and {zip_path.name} to {out}")
