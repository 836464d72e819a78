"""`nocode explain`: where a run's model looked, as heat-map overlays written to a folder.
`nocode review`: which pictures of a dataset are probably in the wrong class."""

from __future__ import annotations

from pathlib import Path

from .common import add_common, emit, find_user_or_fail, open_workspace, read_files


def register(sub) -> None:
    p = sub.add_parser("explain", help="heat maps of where a run's model looked in pictures (Grad-CAM), as PNGs")
    add_common(p)
    p.add_argument("--user", required=True)
    p.add_argument("--run", required=True, dest="run_id")
    p.add_argument("--out", required=True, help="folder for the overlays (created if needed)")
    p.add_argument("--class", dest="target", help="show the evidence for this class (default: the predicted one)")
    p.add_argument("images", nargs="+")
    p.set_defaults(run=_explain)

    r = sub.add_parser("review", help="rank a dataset's pictures by how unlikely their class is (check my labels)")
    add_common(r)
    r.add_argument("--user", required=True)
    r.add_argument("--dataset", required=True, help="name or id")
    r.add_argument("--folds", type=int, default=4, choices=[3, 4, 5],
                   help="each picture is judged by a model trained on the other folds (default 4)")
    r.add_argument("--all", action="store_true", help="list every picture, not only the flagged ones (text output)")
    r.set_defaults(run=_review)


def _explain(args):
    from ..insight.explain import explain
    from ..files import write_atomic

    ws = open_workspace(args)
    pictures = read_files(args.images)
    out = Path(args.out)
    rows, lines = [], []
    for (path, _), e in zip(pictures, explain(ws, find_user_or_fail(ws, args.user), args.run_id, pictures,
                                              [args.target] * len(pictures))):
        if e.error:
            rows.append(e.to_json())
            lines.append(f"{path}: {e.error}")
            continue
        file = out / f"{Path(path).stem}-where-it-looked.png"
        write_atomic(file, e.png)
        rows.append(e.to_json(str(file.resolve())))
        focus = "" if e.target == e.label else f"; map for {e.target} ({e.target_probability:.0%})"
        lines.append(f"{path}: {e.label} ({e.probability:.0%}{focus}) -> {file}")
    emit(args, rows, "\n".join(lines))
    return 0 if all("error" not in r for r in rows) else 1


def _review(args):
    from ..datasets import find_dataset
    from ..insight.label_check import check_labels

    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.user)
    ds = find_dataset(ws, user, args.dataset)
    review = check_labels(ws, user, ds.id, args.folds)
    shown = review.ranked if args.all else review.flagged
    lines = [f"{len(review.flagged)} of {len(review.ranked)} pictures are probably mislabelled "
             f"({review.folds}-fold check, {review.seconds:.0f} s; {review.how})"]
    lines += [f"{f.score:.3f}  {f.file}  {f.given} -> {f.suggested} ({f.suggested_probability:.0%})"
              + ("" if f.flagged else "  (not flagged)") for f in shown]
    emit(args, [f.to_json() for f in review.ranked], "\n".join(lines))
