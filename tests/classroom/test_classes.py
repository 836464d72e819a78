"""Classes: teachers make them, students join by code or arrive from a roster with one-time passwords they must
replace, a person may be in several classes, the administrator sees all, and shared datasets are frozen copies
students read and train on but nobody changes."""

import io

import pytest

from nocode_widgets import classroom as C
from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth, signins
from nocode_widgets.accounts.quota import usage
from nocode_widgets.errors import AuthError, DatasetError, NotFound
from nocode_widgets.runs import jobs
from nocode_widgets.runs.records import create_run
from tests.images import class_files, make_zip
from tests.training_helpers import colour_dataset


@pytest.fixture
def teacher(ws, alice):
    return auth.create_account(ws, alice, "teacher", "password-teacher", role="teacher")


def test_only_teachers_and_admins_create_classes(ws, alice, bob, teacher):
    with pytest.raises(AuthError, match="teacher"):
        C.create_class(ws, bob, "Mine")
    assert C.create_class(ws, teacher, "Art").teacher == teacher.id
    assert C.create_class(ws, alice, "Admin's").teacher == alice.id  # alice is the first account: admin


def test_join_code_lets_a_student_in_and_a_new_code_stops_the_old(ws, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    with pytest.raises(NotFound):
        C.get_class(ws, bob, room.id)  # not in it yet: not even its name
    assert C.join(ws, bob, room.code.lower()).id == room.id  # typed in lower case: still the code
    assert [c.id for c in C.list_classes(ws, bob)] == [room.id]
    fresh = C.classes.new_join_code(ws, teacher, room.id)
    with pytest.raises(C.ClassError, match="No class has that join code"):
        C.join(ws, auth.sign_up(ws, "carol", "password-carol"), room.code)
    assert fresh.code != room.code and room.id in auth.current_user(ws, bob).classes  # bob stays
    with pytest.raises(AuthError):
        C.classes.new_join_code(ws, bob, room.id)  # a student cannot


def test_a_person_may_be_in_several_classes_and_the_admin_sees_all(ws, alice, bob, teacher):
    other = auth.create_account(ws, alice, "teacher2", "password-teacher2", role="teacher")
    a, b = C.create_class(ws, teacher, "Art"), C.create_class(ws, other, "Biology")
    C.join(ws, bob, a.code)
    C.join(ws, bob, b.code)
    assert {c.name for c in C.list_classes(ws, bob)} == {"Art", "Biology"}
    assert [c.name for c in C.list_classes(ws, teacher)] == ["Art"]  # a teacher: their own only
    assert {c.name for c in C.list_classes(ws, alice)} == {"Art", "Biology"}
    with pytest.raises(NotFound):
        C.classes.members(ws, other, a.id)  # another teacher's class: not even its name


def test_roster_accounts_must_choose_their_own_password_before_any_sign_in(ws, teacher):
    room = C.create_class(ws, teacher, "Art")
    roster = C.read_roster("name,username\nAda Lovelace,\nAlan Turing,alan\n,\n")
    made, skipped = C.add_students(ws, teacher, room.id, roster)
    assert [a.username for a in made] == ["ada.lovelace", "alan"] and not skipped
    ada = auth.verify_password(ws, "ada.lovelace", made[0].password)
    assert ada.must_change and ada.classes == (room.id,) and ada.shown_name == "Ada Lovelace"
    with pytest.raises(AuthError, match="choose your own password"):
        signins.start(ws, ada, keep=False)  # the door opens nothing on a one-time password
    with pytest.raises(AuthError, match="of your own"):
        auth.choose_own_password(ws, "ada.lovelace", made[0].password, made[0].password)
    auth.choose_own_password(ws, "ada.lovelace", made[0].password, "ada-own-password")
    with pytest.raises(AuthError):
        auth.verify_password(ws, "ada.lovelace", made[0].password)  # the one-time password is spent
    ada = auth.verify_password(ws, "ada.lovelace", "ada-own-password")
    assert not ada.must_change and signins.start(ws, ada, keep=False)[0]
    again, skipped = C.add_students(ws, teacher, room.id, [("Ada L", "ada.lovelace")])
    assert not again and "taken" in skipped[0]  # an existing account is never taken over by a roster
    assert "one-time password" in C.classes.roster_csv(made, room).splitlines()[0]


def test_a_teacher_resets_only_the_accounts_their_classs_roster_made(ws, alice, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    (made,), _ = C.add_students(ws, teacher, room.id, [("Ada Lovelace", "")])
    ada = auth.find_user(ws, made.username)
    fresh = C.classes.reset_student_password(ws, teacher, room.id, ada.id)
    assert auth.verify_password(ws, made.username, fresh.password).must_change
    C.join(ws, bob, room.code)  # bob's own account: joining a class gives nobody his password
    with pytest.raises(AuthError, match="administrator"):
        C.classes.reset_student_password(ws, teacher, room.id, bob.id)
    C.join(ws, alice, room.code)
    with pytest.raises(AuthError, match="administrator"):
        C.classes.reset_student_password(ws, teacher, room.id, alice.id)
    carol = auth.sign_up(ws, "carol", "password-carol")
    with pytest.raises(NotFound):
        C.classes.reset_student_password(ws, teacher, room.id, carol.id)  # not in the class


def test_a_removed_student_cannot_join_again_and_a_demoted_teacher_cannot_teach(ws, alice, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    C.join(ws, bob, room.code)
    C.classes.remove_student(ws, teacher, room.id, bob.id)
    with pytest.raises(C.ClassError, match="took you out"):
        C.join(ws, bob, room.code)
    auth.set_role(ws, alice, teacher.id, "user")
    with pytest.raises(AuthError, match="teacher"):
        C.add_students(ws, teacher, room.id, [("Eve", "")])
    assert C.classes.new_join_code(ws, alice, room.id).code != room.code  # an administrator still can


def test_roster_usernames_made_from_names_step_around_taken_ones(ws, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    auth.sign_up(ws, "john.smith", "password-john")
    made, skipped = C.add_students(ws, teacher, room.id, C.read_roster("John Smith\nJohn Smith\n"))
    assert sorted(a.username for a in made) == ["john.smith2", "john.smith3"] and not skipped


def test_a_shared_dataset_is_a_frozen_copy_students_train_on_and_nobody_changes(ws, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    C.join(ws, bob, room.code)
    own = colour_dataset(ws, teacher, classes=("red", "blue"), per_class=4)
    before = usage(ws, teacher.id).used
    shared = C.share_dataset(ws, teacher, room.id, own.id)
    assert shared.frozen and shared.version == own.version and shared.shared_with == (room.id,)
    assert usage(ws, teacher.id).used - before < 4096  # the pictures count once: only a manifest more
    assert [d.id for d in D.shared_datasets(ws, bob)] == [shared.id]
    assert D.get_dataset(ws, bob, shared.id).counts == own.counts
    with pytest.raises(NotFound):
        D.get_dataset(ws, bob, own.id)  # the teacher's working dataset stays theirs
    for change in (lambda u: D.add_class(ws, u, shared.id, "green"), lambda u: D.rename_dataset(ws, u, shared.id, "x"),
                   lambda u: D.import_archive(ws, u, io.BytesIO(make_zip(class_files(("red",), 2))), dataset_id=shared.id)):
        with pytest.raises((DatasetError, NotFound)):
            change(bob)
        with pytest.raises(DatasetError, match="fixed"):
            change(teacher)  # not even its owner
    with pytest.raises(DatasetError, match="used by a class"):
        D.delete_dataset(ws, teacher, shared.id)
    D.add_class(ws, teacher, own.id, "green")  # the working dataset moves on; the shared copy does not
    assert D.get_dataset(ws, bob, shared.id).classes == own.classes and "green" not in own.classes
    ds = jobs.check_trainable(ws, bob, shared.id, [{"epochs": 1}])  # what queuing a run checks
    run = create_run(ws, bob, ds, {"epochs": 1})
    assert run.owner == bob.id and run.dataset_id == shared.id and run.dataset_version == own.version
    mine = D.copy_dataset(ws, bob, shared.id, "my colours")
    assert mine.owner == bob.id and not mine.frozen and mine.counts == shared.counts
    D.add_class(ws, bob, mine.id, "green")  # a student's copy is theirs to edit
    assert usage(ws, bob.id).used > 0  # and counts in their space


def test_a_student_outside_the_class_cannot_reach_a_shared_dataset(ws, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    shared = C.share_dataset(ws, teacher, room.id, colour_dataset(ws, teacher, classes=("red", "blue"), per_class=3).id)
    with pytest.raises(NotFound):
        D.get_dataset(ws, bob, shared.id)
    with pytest.raises(NotFound):
        jobs.check_trainable(ws, bob, shared.id, [{"epochs": 1}])
    with pytest.raises(NotFound):
        D.copy_dataset(ws, bob, shared.id, "stolen")
    C.join(ws, bob, room.code)
    C.classes.remove_student(ws, teacher, room.id, bob.id)
    with pytest.raises(NotFound):
        D.get_dataset(ws, bob, shared.id)  # removed from the class: gone again


def test_removing_a_class_lets_its_shared_copy_go(ws, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    C.join(ws, bob, room.code)
    shared = C.share_dataset(ws, teacher, room.id, colour_dataset(ws, teacher, classes=("red", "blue"), per_class=3).id)
    C.remove_class(ws, teacher, room.id)
    assert auth.current_user(ws, bob).classes == ()
    D.delete_dataset(ws, teacher, shared.id)  # no class uses it now
