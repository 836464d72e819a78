"""`nocode study` (compare models), `nocode studies` (list or show them), `nocode ensemble` (combine runs);
bagging is `nocode train --bag K` (cli/training.py), waited for here."""

from __future__ import annotations

import sys
import time

from .. import datasets as D
from ..runs import studies as S
from ..runs.ensemble import make_ensemble, parse_weights
from ..errors import NocodeError
from ..runs.facts import device_facts
from ..runs.queue import schedule
from ..runs.records import load_run
from .common import add_common, emit, find_user_or_fail, open_workspace

NUDGE_S = 5.0  # how often a waiting command asks the queue to move (a crashed worker cannot)


def register(sub) -> None:
    s = sub.add_parser("study", help="train several models on one dataset and compare them")
    add_common(s)
    s.add_argument("--user", required=True)
    s.add_argument("--dataset", required=True, help="name or id")
    pick = s.add_mutually_exclusive_group(required=True)
    pick.add_argument("--archs", help="comma-separated architectures (2 to 8), e.g. small_cnn,resnet18")
    pick.add_argument("--preset", choices=list(S.PRESETS), help="; ".join(f"{k}: {v[0]}" for k, v in S.PRESETS.items()))
    s.add_argument("--epochs", type=int, help=f"the epoch cap every model gets (default {S.DEFAULT_EPOCHS})")
    s.add_argument("--image-size", type=int, help="the same picture size for every model (default: Auto's per model)")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--wait", action="store_true", help="wait for every model, then print the table")
    s.set_defaults(run=_study)

    ls = sub.add_parser("studies", help="list a user's comparisons and baggings, or show one as a table")
    add_common(ls)
    ls.add_argument("--user", required=True)
    ls.add_argument("--cancel", action="store_true", help="cancel the study's waiting and running models")
    ls.add_argument("study_id", nargs="?")
    ls.set_defaults(run=_studies)

    e = sub.add_parser("ensemble", help="combine finished runs of one dataset into one model (soft vote)")
    add_common(e)
    e.add_argument("--user", required=True)
    e.add_argument("--runs", required=True, help="comma-separated run ids (2 or more)")
    e.add_argument("--weights", help="comma-separated weights, one per run (default: equal)")
    e.add_argument("--name")
    e.set_defaults(run=_ensemble)


def _study(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    ds = D.find_dataset(ws, user, args.dataset)
    extra = {k: v for k, v in (("image_size", args.image_size), ("batch_size", args.batch_size)) if v}
    if args.preset:
        study = S.start_preset(ws, user, ds.id, args.preset, device_facts(ws)["auto"], args.epochs, extra)
    else:
        study = S.start_study(ws, user, ds.id, args.archs.split(","), args.epochs, "", extra)
    if not args.wait:
        emit(args, {"study_id": study.id, "runs": study.runs, "waiting": len(study.pending)},
             f"Started {study.id}: {len(study.runs)} models queued, {len(study.pending)} waiting for room.")
        return 0
    table = wait_for_study(ws, user, study.id, quiet=args.json)
    emit(args, table.to_json(), table_text(table))
    return 0 if table.rows and all(r.status == "done" for r in table.rows) else 1


def wait_for_study(ws, user, study_id: str, quiet: bool) -> S.StudyTable:
    """Until no member waits or trains (and a bagging's ensemble is made), with a line per change."""
    last, nudged = None, 0.0
    while True:
        study = S.get_study(ws, user, study_id)
        if time.time() - nudged > NUDGE_S:
            schedule(ws)
            nudged = time.time()
        active = S.is_active(ws, study)
        if not active and study.kind == "bagging" and study.status == "open" and not (study.ensemble or study.note):
            schedule(ws)  # the last member just finished: the scheduler combines them
            study = S.get_study(ws, user, study_id)
        done = sum(load_run(ws, r).status in ("done", "failed", "cancelled", "interrupted") for r in study.runs)
        line = f"{study.id}: {done} of {len(study.configs)} models finished"
        if not quiet and line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if not active:
            return S.study_table(ws, user, study_id)
        time.sleep(0.5)


def table_text(t: S.StudyTable) -> str:
    def cell(v, fmt):
        return "–" if v is None else format(v, fmt)

    head = f"{'model':<22} {'status':<10} {'acc.':>6} {'w.F1':>6} {'m.F1':>6} {'train s':>8} {'pics/s':>7} " \
           f"{'peak MB':>8} {'params':>10} {'best':>4}"
    lines = [f"{t.study.title} ({t.study.id})", head]
    for r in t.rows:
        lines.append(f"{r.title[:22]:<22} {r.status:<10} {cell(r.accuracy, '.3f'):>6} {cell(r.weighted_f1, '.3f'):>6} "
                     f"{cell(r.macro_f1, '.3f'):>6} {cell(r.training_s, '.1f'):>8} {cell(r.pictures_per_s, '.0f'):>7} "
                     f"{cell(r.peak_memory_mb, '.0f'):>8} {cell(r.parameters, ','):>10} {r.best_epoch:>4}")
    if t.waiting:
        lines.append(f"{t.waiting} more waiting for room in the queue.")
    if t.recommendation:
        lines.append(f"Recommended: {t.recommendation}")
    if t.study.ensemble:
        lines.append(f"Combined into ensemble {t.study.ensemble}.")
    if t.study.note:
        lines.append(t.study.note)
    return "\n".join(lines)


def _studies(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    if args.study_id:
        if args.cancel:
            S.cancel_study(ws, user, args.study_id)
        table = S.study_table(ws, user, args.study_id)
        emit(args, table.to_json(), table_text(table))
        return 0
    if args.cancel:
        raise NocodeError("Name the study to cancel.")
    found = S.list_studies(ws, user)
    emit(args, [s.to_json() for s in found],
         "\n".join(f"{s.id}  {s.kind:<8} {s.dataset_name:<20} {s.title}" for s in found) or "No studies yet.")
    return 0


def _ensemble(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    run = make_ensemble(ws, user, args.runs.split(","), parse_weights(args.weights), args.name or "")
    m = run.metrics
    emit(args, {"run_id": run.id, "name": run.name, "members": run.members, "measured_on": m["split"],
                "accuracy": m["val_accuracy"], "weighted_f1": m["val_weighted_f1"], "how": run.explanation},
         f"{run.id}: {run.name}\n{run.explanation}\nAccuracy {m['val_accuracy']:.1%}, weighted F1 "
         f"{m['val_weighted_f1']:.3f} ({m['split']} pictures).")
    return 0
