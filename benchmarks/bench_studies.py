"""Studies, ensembles and bagging, measured through the product's own path (the queue and real worker
processes, one run at a time):

1. a study of 4 architectures on generated shapes, printed as the table Results shows;
2. an ensemble of the study's 3 most accurate models, and one of 3 comparable models (the small CNN with other
   settings), each vs its best member and its mean member, all on the same validation pictures (the
   ensemble's own scoring rule);
3. bagging (3 models, each trained without one fold, scored out of fold) vs one Auto run's validation figure,
   on generated shapes and on scikit-learn's digits.

    pip install scikit-learn   # for the digits; not a dependency of the app
    python benchmarks/bench_studies.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, table  # noqa: E402
from benchmarks._data import digits_zip, shapes_zip  # noqa: E402

ARCHS = ["small_cnn", "mobilenet_v3_small", "shufflenet_v2_x1_0", "resnet18"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    from nocode_widgets.accounts import auth
    from nocode_widgets import datasets as D
    from nocode_widgets.runs import studies as S
    from nocode_widgets.cli.studies_cli import table_text, wait_for_study
    from nocode_widgets.config import Settings
    from nocode_widgets.runs.ensemble import make_ensemble
    from nocode_widgets.runs import jobs
    from nocode_widgets.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-studies-"))
    ws = Workspace.open(settings=Settings(data_dir=tmp, argon2_time_cost=1, argon2_memory_kib=1024,
                                          allow_weight_download=False, max_queued_runs_per_user=4))
    user = auth.sign_up(ws, "bench", "password123")

    def dataset(name, data):
        return D.get_dataset(ws, user, D.import_archive(ws, user, io.BytesIO(data), name=name).dataset_id)

    def figures(run):
        m = run.metrics
        return m["val_accuracy"], m["val_weighted_f1"]

    print(f"Machine: {machine()}\n")
    shapes = dataset("shapes-360", shapes_zip(120, 64))
    started = time.time()
    study = S.start_study(ws, user, shapes.id, ARCHS, args.epochs)
    t = wait_for_study(ws, user, study.id, quiet=True)
    print(f"1. Study of {len(ARCHS)} architectures on generated shapes (360 pictures, 64 px, {args.epochs} epochs), "
          f"{time.time() - started:.0f} s in all\n")
    print(table_text(t) + "\n")

    def compare_ensemble(title, members):
        ens = make_ensemble(ws, user, [m.id for m in members])
        accs = [figures(m) for m in members]
        best = max(range(3), key=lambda k: accs[k])
        rows = [{"model": "ensemble of 3 (soft vote)", "accuracy": figures(ens)[0], "weighted F1": figures(ens)[1]},
                {"model": f"best member ({names[members[best].id]})", "accuracy": accs[best][0],
                 "weighted F1": accs[best][1]},
                {"model": "mean member", "accuracy": sum(a for a, _ in accs) / 3,
                 "weighted F1": sum(f for _, f in accs) / 3}]
        on = ens.explanation.split("the ")[1].split(" none")[0]
        print(f"{title}, on the same {on}\n\n" + table(rows, ["model", "accuracy", "weighted F1"]) + "\n")

    names = {r.run_id: r.title for r in t.rows}
    done = sorted((r for r in t.rows if r.accuracy is not None), key=lambda r: -r.accuracy)[:3]
    compare_ensemble("2a. Ensemble of the study's 3 most accurate vs its members", [jobs.get(ws, user, r.run_id) for r in done])
    variants = [{"arch": "small_cnn"}, {"arch": "small_cnn", "lr": 0.0015}, {"arch": "small_cnn", "augment": "light"}]
    trio = []
    for config, name in zip(variants, ("Small CNN (Auto)", "Small CNN, lr 0.0015", "Small CNN, light augmentation")):
        run = jobs.submit(ws, user, shapes.id, config)
        for _ in jobs.follow(ws, user, run.id, interval=0.5):
            pass
        trio.append(jobs.get(ws, user, run.id))
        names[run.id] = name
    compare_ensemble("2b. Ensemble of 3 comparable models (Small CNN with other settings, the same split)", trio)

    sets = [("shapes-360", shapes)]
    try:
        sets.append(("digits-1797", dataset("digits", digits_zip())))
    except ImportError:
        print("(scikit-learn is not installed: the digits are left out)\n")
    rows = []
    for name, ds in sets:
        single = jobs.submit(ws, user, ds.id, {})
        for _ in jobs.follow(ws, user, single.id, interval=0.5):
            pass
        single = jobs.get(ws, user, single.id)
        started = time.time()
        bag = S.start_bagging(ws, user, ds.id, {}, folds=3)
        bt = wait_for_study(ws, user, bag.id, quiet=True)
        if not bt.study.ensemble:
            S.top_up(ws)
            bt = S.study_table(ws, user, bag.id)
        bagged = jobs.get(ws, user, bt.study.ensemble)
        folds = [r.accuracy for r in bt.rows]
        rows.append({"dataset": name, "single: val acc": figures(single)[0], "single: val wF1": figures(single)[1],
                     "single s": single.seconds, "bagging: out-of-fold acc": figures(bagged)[0],
                     "bagging: oof wF1": figures(bagged)[1], "members' fold acc": " / ".join(f"{a:.3f}" for a in folds),
                     "bagging s": time.time() - started})
    print("3. Bagging (3 models on different folds, scored out of fold on every picture) vs one Auto run (scored on "
          "its validation fifth)\n")
    print(table(rows, ["dataset", "single: val acc", "single: val wF1", "single s", "bagging: out-of-fold acc",
                       "bagging: oof wF1", "members' fold acc", "bagging s"]))


if __name__ == "__main__":
    main()
