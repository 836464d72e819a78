"""`nocode train`, `nocode predict` and `nocode runs [show|cancel|follow]`."""

from __future__ import annotations

import sys

from .. import datasets as D
from ..errors import NocodeError
from ..runs import jobs
from ..runs.train_config import AUGMENTS, IMBALANCE_TOOLS, MODES, OPTIMIZERS, SCHEDULES, imbalance_fields
from ..runs.records import RunRecord, load_run
from ..models.zoo import ARCHS
from .common import add_common, emit, find_user_or_fail, open_workspace, read_files

def register(sub) -> None:
    t = sub.add_parser("train", help="train a model on a dataset")
    add_common(t)
    t.add_argument("--user", required=True)
    t.add_argument("--dataset", required=True, help="name or id")
    t.add_argument("--arch", default="auto", choices=["auto", *ARCHS])
    t.add_argument("--mode", choices=MODES)
    t.add_argument("--epochs", type=int)
    t.add_argument("--image-size", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=OPTIMIZERS)
    t.add_argument("--schedule", choices=SCHEDULES)
    t.add_argument("--augment", choices=AUGMENTS)
    t.add_argument("--patience", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--val-fraction", type=float)
    t.add_argument("--test-fraction", type=float)
    t.add_argument("--imbalance", nargs="+", choices=list(IMBALANCE_TOOLS), help="imbalance tools to use")
    t.add_argument("--weights-file", help="local ImageNet weights for --arch")
    t.add_argument("--no-pretrained", action="store_true", help="train from scratch")
    t.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--bag", type=int, metavar="K", help="bagging: train K models on different folds (each on K-1 "
                   "of them) and combine them into one ensemble measured out of fold")
    t.add_argument("--wait", action="store_true", help="follow the run until it ends")
    t.set_defaults(run=_train)

    p = sub.add_parser("predict", help="classify pictures with a trained run")
    add_common(p)
    p.add_argument("--user", required=True)
    p.add_argument("--run", required=True, dest="run_id")
    p.add_argument("--engine", choices=["auto", "onnx", "torch"], default="auto",
                   help="auto: the exported ONNX model when it passed its parity check, else PyTorch")
    p.add_argument("--tta", action="store_true",
                   help="also look at each picture's mirror image and average (twice the work; off by default)")
    p.add_argument("--sure-above", type=float, metavar="P",
                   help="say 'not sure' below this probability (0-1; default: the run's own, chosen on validation)")
    p.add_argument("--add-to", metavar="DATASET", help="also add the pictures to this dataset of yours (name or id)")
    p.add_argument("--as", dest="as_class", metavar="CLASS",
                   help="with --add-to: the class to file them in (default: each picture's answer)")
    p.add_argument("images", nargs="+")
    p.set_defaults(run=_predict)

    r = sub.add_parser("runs", help="list runs (show, cancel or follow one)")
    add_common(r)
    r.add_argument("--user", help="whose runs (default: all, as the operator)")
    r.set_defaults(run=_list)
    actions = r.add_subparsers(dest="runs_command")
    cell = actions.add_parser("cell", help="the pictures of one cell of a run's confusion matrix, with probabilities")
    add_common(cell)
    cell.add_argument("--user", help="check the run belongs to this user")
    cell.add_argument("--true", required=True, dest="true_class", help="the pictures' class")
    cell.add_argument("--said", required=True, help="the class the model said")
    cell.add_argument("--split", choices=["validation", "test"], default="validation")
    cell.add_argument("run_id")
    cell.set_defaults(run=_cell)
    for name, fn, help_text in (("show", _show, "status, progress and metrics of a run"),
                                ("cancel", _cancel, "stop a run at its next batch"),
                                ("follow", _follow, "print live progress until the run ends")):
        a = actions.add_parser(name, help=help_text)
        add_common(a)
        a.add_argument("--user", help="check the run belongs to this user")
        a.add_argument("run_id")
        a.set_defaults(run=fn)


def train_config(args) -> dict:
    config = {"arch": None if args.arch == "auto" else args.arch, "mode": args.mode, "epochs": args.epochs,
              "image_size": args.image_size, "batch_size": args.batch_size, "lr": args.lr,
              "optimizer": args.optimizer, "schedule": args.schedule, "augment": args.augment,
              "patience": args.patience, "seed": args.seed, "val_fraction": args.val_fraction,
              "test_fraction": args.test_fraction, "weights_file": args.weights_file, "device": args.device}
    if args.no_pretrained:
        config["pretrained"] = False
    config.update(imbalance_fields(args.imbalance or []))
    return {k: v for k, v in config.items() if v is not None}


def run_summary(run: RunRecord) -> dict:
    return {"run_id": run.id, "status": run.status, "dataset": run.dataset_name, "arch": (run.resolved or {}).get("arch"),
            "val_accuracy": run.metrics.get("val_accuracy"), "val_weighted_f1": run.metrics.get("val_weighted_f1"),
            "test_accuracy": run.metrics.get("test_accuracy"), "epochs_run": run.epochs_run,
            "best_epoch": run.best_epoch, "seconds": round(run.seconds, 1), "error": run.error or None,
            "stopped": run.stopped or None, "notice": run.notice or None, "created": run.created}


def _train(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    ds = D.find_dataset(ws, user, args.dataset)
    if args.bag:
        return _bag(ws, user, ds, args)
    run = jobs.submit(ws, user, ds.id, train_config(args))
    if not args.wait:
        emit(args, {"run_id": run.id, "status": run.status}, f"Started {run.id} (status: {run.status}).")
        return 0
    final = _follow_until_done(ws, user, run.id, quiet=args.json)
    emit(args, run_summary(final), _summary_text(final))
    return 0 if final.status == "done" else 1


def _bag(ws, user, ds, args) -> int:
    from ..runs.studies import start_bagging
    from .studies_cli import table_text, wait_for_study

    study = start_bagging(ws, user, ds.id, train_config(args), args.bag)
    if not args.wait:
        emit(args, {"study_id": study.id, "runs": study.runs, "waiting": len(study.pending)},
             f"Started bagging {study.id}: {len(study.runs)} models queued, {len(study.pending)} waiting for room.")
        return 0
    table = wait_for_study(ws, user, study.id, quiet=args.json)
    final = table.study
    emit(args, {**table.to_json(), "ensemble": final.ensemble or None},
         table_text(table) + ("" if not final.ensemble else "\n" + _summary_text(load_run(ws, final.ensemble))))
    return 0 if final.ensemble else 1


def _follow_until_done(ws, user, run_id: str, quiet: bool) -> RunRecord:
    last = None
    for p in jobs.follow(ws, user, run_id, interval=0.2):  # a stat per look: cheap
        line = _progress_line(p)
        if not quiet and line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
    return jobs.get(ws, user, run_id)


def _progress_line(p: jobs.RunProgress) -> str:
    if p.run.status not in ("queued", "running"):
        return f"{p.run.id}: {p.run.status}"
    if p.phase != "training":
        return f"{p.run.id}: {p.phase}"
    last = p.history[-1] if p.history else None
    scores = f", val acc {last['val_acc']:.3f}, val F1 {last['val_f1']:.3f}" if last else ""
    return f"{p.run.id}: epoch {p.epoch}/{p.epochs}{scores}"


def _summary_text(run: RunRecord) -> str:
    if run.status == "failed":
        return f"{run.id} failed: {run.error}"
    m = run.metrics
    acc = (f"{m.get('split', 'validation')} accuracy {m['val_accuracy']:.1%}, weighted F1 {m['val_weighted_f1']:.3f}"
           if m.get("val_accuracy") is not None else "no metrics")
    note = "".join(f"\n{line}" for line in (run.ending, f"Note: {run.notice}" if run.notice else "") if line)
    if run.kind == "ensemble":
        return f"{run.id} ({run.name}): {acc}.\n{run.explanation}"
    return (f"{run.id} {run.status}: {acc} (best epoch {run.best_epoch} of {run.epochs_run}, "
            f"{run.seconds:.0f} s){note}")


def _predict(args):
    from ..predict.onnx import Prediction, predictor_for

    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    predictor = predictor_for(ws, user, args.run_id, args.engine)
    images = read_files(args.images)
    if args.sure_above is not None and not 0 <= args.sure_above <= 1:
        raise NocodeError("--sure-above is a probability between 0 and 1.")
    if args.as_class and not args.add_to:
        raise NocodeError("--as goes with --add-to DATASET.")
    target = D.get_own_dataset(ws, user, D.find_dataset(ws, user, args.add_to).id) if args.add_to else None
    if target is not None and args.as_class and args.as_class not in target.classes:  # checked before any work
        raise NocodeError(f"There is no class called {args.as_class!r} in {target.name}.")
    rows, lines = [], []
    results = predictor.predict(images, tta=args.tta, threshold=args.sure_above)
    for (path, _), result in zip(images, results):
        if isinstance(result, Prediction):
            rows.append({"file": path, "label": result.label, "sure": result.sure, "probabilities": result.probabilities,
                         "engine": predictor.engine, "tta": args.tta})
            lines.append(f"{path}: {result.answer} ({result.probabilities[result.label]:.0%})")
        else:
            rows.append({"file": path, "error": result})
            lines.append(f"{path}: {result}")
    if target is not None:
        lines += _add_tested(ws, user, target, images, results, args.as_class, rows)
    emit(args, rows, "\n".join(lines))


def _add_tested(ws, user, ds, images, results, as_class, rows) -> list[str]:
    """`predict --add-to`: each tested picture into the class given, or the one it was answered with when the
    answer was sure and is a class of the dataset (the others are left out, and said so)."""
    from ..datasets.uploads import UploadedFile
    from ..predict.onnx import Prediction

    by_class: dict[str, list] = {}
    lines = []
    for (path, raw), result in zip(images, results):
        if not isinstance(result, Prediction):
            continue
        if as_class or (result.sure and result.label in ds.classes):
            by_class.setdefault(as_class or result.label, []).append(UploadedFile(path, raw))
        else:
            lines.append(f"Not added: {path} (the answer was not sure; give its class with --as)")
    for label, files in by_class.items():
        report = D.add_uploads(ws, user, ds.id, label, files)
        for row in rows:
            if any(row["file"] == f.name for f in files):
                row["added_to"] = {"dataset": ds.id, "class": label, "version": D.get_dataset(ws, user, ds.id).version}
        lines.append(f"Added to {ds.name} as {label}: {report.summary()}")
    return lines


def _cell(args):
    from ..runs.records import cell_pictures

    ws, _, run = _operator_view(args)
    rows = cell_pictures(ws, run, args.split, args.true_class, args.said)
    if rows is None:
        raise NocodeError("This run has no per-picture predictions (it was trained before they were kept).")
    lines = [f"{len(rows)} {args.split} picture(s) of {args.true_class} that it said were {args.said}:"]
    lines += [f"{r['file']}  {args.said} {r['probabilities'][args.said]:.0%}"
              + (f", {args.true_class} {r['probabilities'].get(args.true_class, 0):.0%}" if args.true_class != args.said else "")
              for r in rows]
    emit(args, rows, "\n".join(lines))


def _operator_view(args):
    """(workspace, acting user, run): the given --user (ownership checked), else the run's owner."""
    ws = open_workspace(args)
    if args.user:
        user = find_user_or_fail(ws, args.user)
    else:
        from ..accounts.auth import User
        from ..store import Table

        owner = ws.store.get(Table.USERS, load_run(ws, args.run_id).owner)
        user = User.from_doc(owner)
    return ws, user, jobs.get(ws, user, args.run_id)


def _list(args):
    ws = open_workspace(args)
    rows = jobs.runs(ws, find_user_or_fail(ws, args.user)) if args.user else jobs.all_runs(ws)
    text = "\n".join(f"{r.id}  {r.status:<11} {r.dataset_name[:24]:<24} "
                     f"{(r.metrics.get('val_accuracy') or 0):>6.1%}" for r in rows)
    emit(args, [run_summary(r) for r in rows], text or "No runs yet.")


def _show(args):
    ws, _, run = _operator_view(args)
    p = jobs.snapshot(ws, run)
    data = {**run_summary(run), "phase": p.phase, "epoch": p.epoch, "epochs": p.epochs, "batch": p.batch,
            "batches": p.batches, "elapsed": round(p.elapsed, 1), "config": run.resolved or run.config,
            "explanation": run.explanation}
    emit(args, data, _progress_line(p) + ("\n" + _summary_text(run) if run.status != "running" else ""))


def _cancel(args):
    ws, user, run = _operator_view(args)
    run = jobs.cancel(ws, user, run.id)
    emit(args, {"run_id": run.id, "status": run.status}, f"Cancel requested for {run.id} (status: {run.status}).")


def _follow(args):
    ws, user, run = _operator_view(args)
    final = _follow_until_done(ws, user, run.id, quiet=False)
    emit(args, run_summary(final), _summary_text(final))
