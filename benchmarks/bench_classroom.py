"""A course's costs (issue: classroom). Two measurements, each beside a plain baseline in the same run:

1. Scoring a submission on a 1,000-picture hidden test set (`classroom.submit`: the checks, the day's limit, a
   helper process with the run's exported ONNX model, the aggregates into the store), against the same
   predictions made in this process with the same predictor and no helper, store or checks.
2. A board of 200 students and 2,000 submissions (`classroom.board` + the page's table, `ui.classroom.board_html`),
   the teacher's view and the grades CSV, against a plain Python sort of 2,000 scores into an HTML table.
   Target: the board renders in under 1 s.

    python benchmarks/bench_classroom.py [--hidden 1000] [--students 200] [--submissions 2000]"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import machine, run_case, table  # noqa: E402
from benchmarks._data import SHAPES, shapes_zip  # noqa: E402


def workspace(tmp: str):
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    return Workspace.open(settings=Settings(data_dir=Path(tmp) / "data", argon2_time_cost=1, argon2_memory_kib=1024,
                                            max_bytes_per_user=50 * 2**30))


def submit_case(data_dir: str, assignment: str, username: str, run_id: str, attempt: str) -> None:
    """One submission, timed, with the peak memory of the helper that scored it (this process's only child)."""
    import json

    from nocode_widgets import classroom as C
    from nocode_widgets.accounts import auth
    from nocode_widgets.config import Settings
    from nocode_widgets.workspace import Workspace

    ws = Workspace.open(settings=Settings(data_dir=Path(data_dir), max_bytes_per_user=50 * 2**30))
    started = time.time()
    sub = C.submit(ws, auth.find_user(ws, username), assignment, run_id)
    print(json.dumps({"case": f"submit, scored in a helper (#{attempt})", "pictures": None,
                      "seconds": time.time() - started,
                      "helper peak MB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "score": sub.public}))


def scoring(hidden: int) -> list[dict]:
    from nocode_widgets import classroom as C
    from nocode_widgets import datasets as D
    from nocode_widgets.accounts import auth
    from nocode_widgets.classroom import assignments as A
    from nocode_widgets.predict.onnx import open_predictor
    from nocode_widgets.runs.records import create_run, run_folder
    from nocode_widgets.training.engine import execute_run

    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace(tmp)
        admin = auth.sign_up(ws, "admin", "bench-password")
        teacher = auth.create_account(ws, admin, "teacher", "bench-password", role="teacher")
        room = C.create_class(ws, teacher, "Bench")
        student = auth.sign_up(ws, "student", "bench-password")
        C.join(ws, student, room.code)
        ds = D.import_archive(ws, teacher, io.BytesIO(shapes_zip(40, size=64)), name="shapes")
        per_class = -(-hidden // len(SHAPES))
        started = time.time()
        work = C.create_assignment(ws, teacher, room.id, ds.dataset_id, io.BytesIO(shapes_zip(per_class, size=64,
                                                                                               seed=7)),
                                   time.time() + 3600, title="Shapes", metric="weighted_f1", per_day=100)
        setting = time.time() - started
        shared = D.get_dataset(ws, student, work.dataset_id)
        run = execute_run(ws, create_run(ws, student, shared, {"epochs": 3, "image_size": 64}).id)
        rows = [run_case(__file__, "--case", str(ws.settings.data_dir), work.id, "student", run.id, str(attempt))
                for attempt in (1, 2)]  # in a fresh process each: its only child is the scoring helper
        pictures = A._hidden_pictures(ws, work)
        started = time.time()
        predictor = open_predictor(run_folder(ws, run))
        for start in range(0, len(pictures), 64):
            predictor.predict([(str(i), Path(p).read_bytes()) for i, (p, _, _) in enumerate(pictures[start:start + 64])])
        plain = time.time() - started
        rows.append({"case": "plain: the same predictions in this process", "pictures": len(pictures),
                     "seconds": plain})
        for row in rows[:2]:
            row["x plain"], row["pictures"] = row["seconds"] / plain, len(pictures)
        rows.append({"case": f"setting the assignment (importing {work.hidden_count} hidden pictures)",
                     "pictures": work.hidden_count, "seconds": setting})
        return rows


def board(students: int, submissions: int) -> list[dict]:
    import random

    from nocode_widgets import classroom as C
    from nocode_widgets import datasets as D
    from nocode_widgets.accounts import auth
    from nocode_widgets.store import Table, new_id
    from nocode_widgets.ui.classroom import board_html
    from nocode_widgets.ui.parts import html_table
    from tests.images import class_files, make_zip
    from tests.classroom.conftest import hidden_zip

    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        ws = workspace(tmp)
        admin = auth.sign_up(ws, "admin", "bench-password")
        teacher = auth.create_account(ws, admin, "teacher", "bench-password", role="teacher")
        room = C.create_class(ws, teacher, "Bench")
        made, _ = C.add_students(ws, teacher, room.id, [(f"Student {k}", f"student{k}") for k in range(students)])
        ds = D.import_archive(ws, teacher, io.BytesIO(make_zip(class_files(("red", "blue"), 4))), name="colours")
        work = C.create_assignment(ws, teacher, room.id, ds.dataset_id, io.BytesIO(hidden_zip(per_class=2)),
                                   time.time() + 3600)
        ids = [auth.find_user(ws, a.username).id for a in made]
        now = time.time()
        with ws.store.transaction(teacher.id) as tx:  # 2,000 scored submissions, as scoring would record them
            for k in range(submissions):
                score = rng.random()
                tx.insert(Table.SUBMISSIONS, {"id": new_id("sub"), "owner": teacher.id, "assignment": work.id,
                                              "student": ids[k % students], "run": "run_x", "created": now - k,
                                              "status": "scored", "public": score, "final": score * 0.9,
                                              "per_class_public": {"red": score, "blue": score},
                                              "per_class_final": {"red": score, "blue": score}})
        rows = []
        for viewer, who in ((teacher, "teacher"), (auth.find_user(ws, made[0].username), "student")):
            for attempt in (1, 2):
                started = time.time()
                html = board_html(C.board(ws, viewer, work.id))
                rows.append({"case": f"board + table, as the {who} (#{attempt})", "rows": html.count("<tr>") - 1,
                             "seconds": time.time() - started})
        started = time.time()
        C.teacher_view(ws, teacher, room.id)
        rows.append({"case": "the teacher's view of the class", "rows": students, "seconds": time.time() - started})
        started = time.time()
        C.grades_csv(ws, teacher, work.id)
        rows.append({"case": "grades CSV", "rows": students, "seconds": time.time() - started})
        started = time.time()
        scores = sorted(((rng.random(), f"Student {k % students}") for k in range(submissions)), reverse=True)
        best = {}
        for score, name in scores:
            best.setdefault(name, score)
        html_table(["rank", "student", "score"], [[i, n, f"{s:.3f}"] for i, (n, s) in enumerate(best.items(), 1)])
        plain = time.time() - started
        rows.append({"case": "plain: sort 2,000 scores into a table", "rows": len(best), "seconds": plain})
        for row in rows[:-1]:
            row["x plain"] = row["seconds"] / plain
        return rows


def main() -> None:
    if sys.argv[1:2] == ["--case"]:
        submit_case(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=1000)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--submissions", type=int, default=2000)
    args = parser.parse_args()
    print(machine())
    print(table(scoring(args.hidden), ["case", "pictures", "seconds", "x plain", "helper peak MB", "score"]))
    print()
    print(table(board(args.students, args.submissions), ["case", "rows", "seconds", "x plain"]))


if __name__ == "__main__":
    main()
