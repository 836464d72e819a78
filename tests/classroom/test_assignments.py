"""Assignments: a submission is scored on the hidden test set's two fixed halves (recomputed here by hand), the
day's limit holds, the deadline closes submissions and opens the final board, the board ranks by score, and no
way a student can name reaches the hidden set, another student's runs or the final half early."""

import io
import json
import time

import numpy as np
import pytest

from nocode_widgets import classroom as C
from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from nocode_widgets.classroom import assignments as A
from nocode_widgets.errors import AuthError, NotFound
from nocode_widgets.predict.onnx import open_predictor, predictor_for
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import run_folder
from nocode_widgets.store import Table
from tests.classroom.conftest import hidden_zip
from tests.training_helpers import train


def by_hand(ws, work, run) -> dict:
    """The metric on each half, from the run's own predictor on each hidden picture, in this process."""
    predictor = open_predictor(run_folder(ws, run))
    right = {0: [], 1: []}
    for path, truth, half in A._hidden_pictures(ws, work):
        answer = predictor.predict([("x", open(path, "rb").read())])[0]
        right[half].append(answer.label == work.classes[truth])
    return {"public": float(np.mean(right[0])), "final": float(np.mean(right[1]))}


def swapped_copy_run(ws, student, work):
    """A student's worse model: trained on a copy of the shared dataset with every label swapped."""
    mine = D.copy_dataset(ws, student, work.dataset_id, "swapped")
    entries = D.read_manifest(D.dataset_folder(ws, mine))
    other = {"red": "blue", "blue": "red"}
    D.relabel_images(ws, student, mine.id, {e.hash: other[e.label] for e in entries})
    return train(ws, student, D.get_dataset(ws, student, mine.id))


def test_the_hidden_set_splits_into_two_fixed_halves_per_class(course):
    ws, *_, work = course
    rows = A._hidden_pictures(ws, work)
    assert rows == A._hidden_pictures(ws, work) and len(rows) == work.hidden_count == 20
    for k in range(len(work.classes)):
        halves = [half for _, truth, half in rows if truth == k]
        assert halves.count(0) == 5 and halves.count(1) == 5


def test_a_submission_is_scored_on_each_half_as_recomputed_by_hand(course, good_run):
    ws, _, teacher, _, students, _, work = course
    sub = C.submit(ws, students[0], work.id, good_run.id)
    assert sub.status == "scored" and sub.student == students[0].id
    expected = by_hand(ws, work, good_run)
    assert sub.public == pytest.approx(expected["public"]) and sub.final == pytest.approx(expected["final"])
    assert set(sub.per_class_public) == {"red", "blue"}
    stored = json.dumps(ws.store.get(Table.SUBMISSIONS, sub.id))
    folder = str(D.dataset_folder(ws, D.Dataset.from_doc(ws.store.get(Table.DATASETS, work.hidden_id))))
    assert "h0.jpg" not in stored and folder not in stored and "images/" not in stored  # aggregates only
    assert not list((ws.settings.data_dir / "tmp").glob("*/out.json"))  # the helper's answer went with its folder


def test_the_board_ranks_by_score_and_the_final_board_waits_for_the_deadline(course, good_run):
    ws, _, teacher, room, students, _, work = course
    bad = swapped_copy_run(ws, students[1], work)
    C.submit(ws, students[1], work.id, bad.id)
    if not A.submissions(ws, work, students[0].id):
        C.submit(ws, students[0], work.id, good_run.id)
    board = C.board(ws, students[2], work.id)
    assert [r.name for r in board.rows] == ["Ada Lovelace", "Alan Turing"]  # students[2] has not submitted
    assert board.rows[0].score > board.rows[1].score and [r.rank for r in board.rows] == [1, 2]
    assert board.rows[1].score == pytest.approx(by_hand(ws, work, bad)["public"])
    with pytest.raises(C.ClassError, match="opens at the deadline"):
        C.board(ws, students[0], work.id, final=True)
    mine = C.visible_submissions(ws, students[0], work.id)
    assert mine and all(s.final is None and not s.per_class_final for s in mine)  # nothing of the final half yet
    assert {s.student for s in C.visible_submissions(ws, teacher, work.id)} >= {students[0].id, students[1].id}
    best = max(mine, key=lambda s: s.public)  # the counted one: the best on the public half
    assert C.board(ws, students[0], work.id).mine == best.per_class_public


def test_after_the_deadline_no_submission_counts_and_the_final_board_opens(course, good_run):
    ws, _, teacher, room, students, ds, _ = course
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(seed=70_000)), time.time() + 600,
                               title="Short one", metric="macro_f1")
    C.submit(ws, students[0], work.id, good_run.id)
    with pytest.raises(AuthError):
        A.close_now(ws, students[0], work.id)  # only the teacher ends it
    A.close_now(ws, teacher, work.id)
    with pytest.raises(C.ClassError, match="deadline has passed"):
        C.submit(ws, students[0], work.id, good_run.id)
    final = C.board(ws, students[0], work.id, final=True)
    assert final.final and final.rows[0].you and final.rows[0].score == A.submissions(ws, work)[0].final
    assert C.visible_submissions(ws, students[0], work.id)[0].final is not None
    grades = C.grades_csv(ws, teacher, work.id).splitlines()
    assert grades[0].startswith("username,name,submissions") and len(grades) == 1 + 3
    ada = next(line for line in grades if line.startswith("ada.lovelace"))
    assert ada.endswith(",1") and "Alan Turing" in "".join(grades)
    with pytest.raises(AuthError):
        C.grades_csv(ws, students[0], work.id)


def test_the_daily_limit_holds(course, good_run):
    ws, _, teacher, room, students, ds, _ = course
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(seed=80_000, per_class=2)),
                               time.time() + 3 * 24 * 3600, title="Limited", per_day=2)
    C.submit(ws, students[0], work.id, good_run.id)
    C.submit(ws, students[0], work.id, good_run.id)
    with pytest.raises(C.ClassError, match="2 submissions in the last 24 hours"):
        C.submit(ws, students[0], work.id, good_run.id)
    assert len(A.submissions(ws, work, students[0].id)) == 2  # the refused one left no record
    tomorrow = time.time() + 24 * 3600 + 60
    assert C.submit(ws, students[0], work.id, good_run.id, clock=lambda: tomorrow).status == "scored"


def test_a_student_reaches_neither_the_hidden_set_nor_another_students_runs(course, good_run):
    ws, _, teacher, room, students, _, work = course
    eve = students[2]
    hidden = work.hidden_id
    for reach in (lambda: D.get_dataset(ws, eve, hidden), lambda: D.dataset_stats(ws, eve, hidden),
                  lambda: jobs.check_trainable(ws, eve, hidden, [{}]), lambda: D.copy_dataset(ws, eve, hidden, "x"),
                  lambda: D.inbox_pictures(ws, eve, hidden), lambda: predictor_for(ws, eve, good_run.id),
                  lambda: jobs.get(ws, eve, good_run.id), lambda: C.submit(ws, eve, work.id, good_run.id)):
        with pytest.raises(NotFound):
            reach()
    assert hidden not in {d.id for d in D.shared_datasets(ws, eve)}
    with pytest.raises(C.ClassError, match="hidden test set"):
        C.share_dataset(ws, teacher, room.id, hidden)  # not even its teacher can hand it out
    with pytest.raises(AuthError):
        C.teacher_view(ws, eve, room.id)
    assert all(s.student == eve.id for s in C.visible_submissions(ws, eve, work.id))


def test_nobody_outside_the_class_sees_its_assignments(course):
    ws, admin, teacher, room, _, _, work = course
    stranger = auth.sign_up(ws, "stranger", "password-stranger")
    for reach in (lambda: C.get_assignment(ws, stranger, work.id), lambda: C.board(ws, stranger, work.id),
                  lambda: C.list_assignments(ws, stranger, room.id), lambda: C.visible_submissions(ws, stranger, work.id)):
        with pytest.raises(NotFound):
            reach()
    assert C.get_assignment(ws, admin, work.id)[0].id == work.id  # the administrator sees every class


def test_an_anonymous_board_shows_a_student_only_their_own_name(course, good_run):
    ws, _, teacher, room, students, _, work = course
    if not A.submissions(ws, work, students[0].id):
        C.submit(ws, students[0], work.id, good_run.id)
    ws.store.update(Table.CLASSES, room.id, {"anonymous": True})
    try:
        seen = C.board(ws, students[2], work.id)
        assert {r.name for r in seen.rows} == {"(a classmate)"} and not any(r.student for r in seen.rows)
        assert "Ada Lovelace" in {r.name for r in C.board(ws, teacher, work.id).rows}
        assert any(r.you and r.name == "Ada Lovelace" for r in C.board(ws, students[0], work.id).rows)
    finally:
        ws.store.update(Table.CLASSES, room.id, {"anonymous": False})


def test_the_teacher_sees_each_students_runs_submissions_and_last_activity(course, good_run):
    ws, _, teacher, room, students, _, work = course
    if not A.submissions(ws, work, students[0].id):
        C.submit(ws, students[0], work.id, good_run.id)
    rows = {r.username: r for r in C.teacher_view(ws, teacher, room.id)}
    ada = rows["ada.lovelace"]
    assert ada.runs >= 1 and ada.submissions >= 1 and ada.last_active > 0 and "Colours" in ada.best
    assert not ada.must_change


def test_an_administrator_sets_an_assignment_for_the_classs_teacher(course):
    ws, admin, teacher, room, _, ds, _ = course
    work = C.create_assignment(ws, admin, room.id, ds.id, io.BytesIO(hidden_zip(seed=90_000, per_class=2)),
                               time.time() + 600, title="Set by the admin")
    assert work.owner == teacher.id and work.id in {a.id for a in C.list_assignments(ws, teacher, room.id)}
    A.remove_assignment(ws, admin, work.id)
    assert work.id not in {a.id for a in C.list_assignments(ws, teacher, room.id)}
    assert ws.store.get(Table.DATASETS, work.hidden_id) is None  # its hidden set went with it


def test_a_hidden_set_must_hold_every_class_students_learn(course):
    ws, _, teacher, room, _, ds, _ = course
    with pytest.raises(C.ClassError, match="blue"):
        C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(classes=("red",), seed=91_000)),
                            time.time() + 600)
    with pytest.raises(C.ClassError, match="green"):
        C.create_assignment(ws, teacher, room.id, ds.id,
                            io.BytesIO(hidden_zip(classes=("red", "blue", "green"), seed=92_000)), time.time() + 600)
    assert not [d for d in D.list_datasets(ws, teacher) if d.name.startswith("Hidden test") and not d.frozen]


def test_runs_per_student_count_on_the_shared_dataset_and_on_ones_own_copies(course):
    from nocode_widgets.runs.records import RunsPerStudentLimit, create_run, delete_run

    ws, _, teacher, room, students, ds, _ = course
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(seed=93_000, per_class=2)),
                               time.time() + 600, title="Two runs", runs_per_student=2)
    grace = students[2]
    before = len([r for r in jobs.runs(ws, grace)])
    shared = D.get_dataset(ws, grace, work.dataset_id)
    mine = D.copy_dataset(ws, grace, shared.id, "grace's copy")
    allowed = 2 - before
    made = [create_run(ws, grace, shared if k % 2 else mine, {"epochs": 1}) for k in range(max(allowed, 0))]
    with pytest.raises(RunsPerStudentLimit, match="2 runs per student"):
        create_run(ws, grace, mine, {"epochs": 1})  # her copy counts too
    if made:
        ws.store.update(Table.RUNS, made[0].id, {"status": "done"})
        with pytest.raises(Exception, match="kept until the deadline"):
            delete_run(ws, grace, made[0].id)
    A.close_now(ws, teacher, work.id)
    create_run(ws, grace, mine, {"epochs": 1})  # the assignment is over: no limit


def test_a_model_of_another_dataset_with_the_same_classes_is_refused(course):
    ws, _, _, _, students, _, work = course
    other = train(ws, students[1], D.get_dataset(ws, students[1], D.import_archive(
        ws, students[1], io.BytesIO(hidden_zip(seed=94_000, per_class=6)), name="lookalike").dataset_id))
    with pytest.raises(C.ClassError, match="assignment's dataset"):
        C.submit(ws, students[1], work.id, other.id)


def test_an_ensemble_of_ones_runs_can_be_submitted(course, good_run):
    from nocode_widgets.runs.ensemble import make_ensemble

    ws, _, teacher, room, students, ds, _ = course
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(seed=95_000, per_class=3)),
                               time.time() + 600, title="Ensembles welcome", metric="macro_f1")
    second = train(ws, students[0], D.get_dataset(ws, students[0], work.dataset_id))
    both = make_ensemble(ws, students[0], [good_run.id, second.id])
    sub = C.submit(ws, students[0], work.id, both.id)
    assert sub.status == "scored" and sub.run_id == both.id and 0 <= sub.public <= 1
