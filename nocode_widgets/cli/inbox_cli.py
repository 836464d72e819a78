"""`nocode inbox add|list|label|discard`: a dataset's unsorted pictures, the model's suggestions for them (most
useful first, or surest first), and filing them into classes."""

from __future__ import annotations

from .. import datasets as D
from ..errors import NocodeError
from .common import add_common, emit, find_user_or_fail, open_workspace


def register(sub) -> None:
    p = sub.add_parser("inbox", help="a dataset's unsorted pictures: add, list with suggestions, label, discard")
    cmds = p.add_subparsers(dest="inbox_command", required=True)

    add = cmds.add_parser("add", help="add pictures, zips or folders of unsorted pictures to the inbox")
    _args(add)
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.set_defaults(run=_add)

    lst = cmds.add_parser("list", help="the inbox with each picture's suggested class, probability and rank")
    _args(lst)
    lst.add_argument("--run", dest="run_id", help="the finished run that suggests (default: the dataset's newest)")
    lst.add_argument("--order", choices=["useful", "sure", "newest"], default="useful",
                     help="useful: the pictures the model is least sure about first (default); sure: surest first")
    lst.set_defaults(run=_list)

    label = cmds.add_parser("label", help="file pictures into classes (ID=CLASS ...), or every sure one")
    _args(label)
    label.add_argument("choices", nargs="*", metavar="ID=CLASS")
    label.add_argument("--accept-sure", action="store_true",
                       help="file every picture the run is sure about in its suggested class")
    label.add_argument("--run", dest="run_id", help="with --accept-sure: the run that suggests (default: the newest)")
    label.set_defaults(run=_label)

    discard = cmds.add_parser("discard", help="remove pictures from the inbox for good")
    _args(discard)
    discard.add_argument("ids", nargs="+", metavar="ID")
    discard.set_defaults(run=_discard)


def _args(p) -> None:
    add_common(p)
    p.add_argument("--user", required=True)
    p.add_argument("--dataset", required=True, help="name or id")


def _open(args):
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    return ws, user, D.find_dataset(ws, user, args.dataset)


def _add(args):
    ws, user, ds = _open(args)
    report = D.add_paths_to_inbox(ws, user, ds.id, args.paths)
    lines = [f"{ds.name}: {report.summary()} {report.inbox} waiting in the inbox."]
    lines += [f"  skipped {s.name}: {s.reason}" for s in report.skipped + report.conflicts]
    emit(args, report.to_json(), "\n".join(lines))


def _list(args):
    from ..insight.suggest import suggest

    ws, user, ds = _open(args)
    found = suggest(ws, user, ds.id, args.run_id, args.order)
    rows = [p.to_json() for p in found.pictures]
    if not found.run_id:
        lines = [f"{len(rows)} pictures waiting; no finished run of this dataset to suggest classes yet."]
        lines += [f"{p.rank:>4}  {p.id}  {p.original}" for p in found.pictures]
    else:
        lines = [f"{len(rows)} pictures waiting, {len(found.sure_ones)} sure (run {found.run_id}, "
                 f"{found.order} first; sure at {found.threshold:.0%} or more):"]
        lines += [f"{p.rank:>4}  {p.id}  {p.suggested} {p.probability:.0%}{'' if p.sure else ' (not sure)'}  {p.original}"
                  for p in found.pictures]
    emit(args, {"run_id": found.run_id, "order": found.order, "threshold": found.threshold, "pictures": rows},
         "\n".join(lines))


def _label(args):
    ws, user, ds = _open(args)
    if args.accept_sure:
        from ..insight.suggest import accept_sure

        if args.choices:
            raise NocodeError("Give either ID=CLASS pairs or --accept-sure, not both.")
        after, counts = accept_sure(ws, user, ds.id, args.run_id)
    else:
        choices = {}
        for pair in args.choices:
            picture_id, sep, label = pair.partition("=")
            if not sep or not picture_id or not label:
                raise NocodeError(f"{pair!r}: write each as ID=CLASS (the ids are in 'nocode inbox list').")
            choices[picture_id.strip()] = label.strip()
        after = D.file_pictures(ws, user, ds.id, choices)
        counts = {c: list(choices.values()).count(c) for c in sorted(set(choices.values()))}
    filed = ", ".join(f"{n} into {c}" for c, n in counts.items())
    emit(args, {"dataset": ds.id, "version": after.version, "filed": counts, "inbox": after.inbox},
         f"Filed {filed}: {ds.name} is now version {after.version}; {after.inbox} still in the inbox.")


def _discard(args):
    ws, user, ds = _open(args)
    after = D.discard_pictures(ws, user, ds.id, args.ids)
    emit(args, {"dataset": ds.id, "discarded": len(args.ids), "inbox": after.inbox},
         f"Discarded {len(args.ids)}; {after.inbox} still in the inbox.")
