"""The Class panel, driven as a browser would: a teacher makes a class and adds a roster whose passwords are
downloaded once; a student joins with the code, submits and reads the board; a crafted run id or class id from
the page reaches nothing."""

import io
import time

import pytest

from nocode_widgets import classroom as C
from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from nocode_widgets.ui.app import App
from tests.classroom.conftest import hidden_zip
from tests.training_helpers import colour_dataset, train
from tests.ui.driving import sign_in, texts, upload


def class_panel(ws, name, password) -> tuple[App, object]:
    app = App(ws)
    sign_in(app, name, password)
    app.tabs.selected_index = list(app.panels).index("Class")
    return app, app.panels["Class"]


@pytest.fixture
def teacher(ws, alice):
    return auth.create_account(ws, alice, "teacher", "password-teacher", role="teacher")


def test_a_teacher_makes_a_class_and_a_rosters_passwords_download_once(ws, teacher):
    app, panel = class_panel(ws, "teacher", "password-teacher")
    tools = panel.teacher
    tools.new_name.value = "Art"
    tools.create_button.click()
    assert "Created Art" in panel.message.value and panel.room.label == "Art"
    upload(tools.roster, {"roster.csv": "name\nAda Lovelace\nAlan Turing\n".encode()})
    panel.work.wait()
    assert "Added 2 students" in panel.message.value and tools.passwords_button.layout.display == ""
    sent = []
    tools.passwords.send_file = lambda name, data, mime: sent.append(data.decode())
    tools.passwords_button.click()
    tools.passwords_button.click()  # a crafted second click: the list is gone
    assert len(sent) == 1 and "ada.lovelace" in sent[0] and "downloaded already" in panel.message.value
    assert "Ada Lovelace" in tools.students.value and "has a one-time password" in tools.students.value
    password = sent[0].splitlines()[1].split(",")[-1]
    assert auth.verify_password(ws, "ada.lovelace", password).must_change


def test_a_student_joins_submits_and_sees_the_board_but_nothing_else(ws, alice, bob, teacher):
    room = C.create_class(ws, teacher, "Art")
    ds = colour_dataset(ws, teacher, classes=("red", "blue"), per_class=10)
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip(per_class=4)), time.time() + 600,
                               title="Colours", metric="accuracy")
    app, panel = class_panel(ws, "bob", "password-bob")
    assert "in no class yet" in panel.about.value and panel.teacher.layout.display == "none"
    panel.code.value = room.code
    panel.join_button.click()
    assert panel.room.value == room.id and panel.assignment.value == work.id 
    run = train(ws, bob, D.get_dataset(ws, bob, work.dataset_id))
    panel.refresh()
    panel.run.value = run.id
    panel.submit_button.click()
    panel.work.wait()
    assert "Scored:" in panel.message.value and "bob (you)" in panel.board.value
    assert "Your F1 per class" in panel.mine.value and "h0.jpg" not in texts(panel)
    other = train(ws, alice, colour_dataset(ws, alice, classes=("red", "blue"), per_class=4, name="alice's"))
    panel.run.options = [*panel.run.options, ("crafted", other.id)]  # what a crafted message could ask
    panel.run.value = other.id
    panel.submit_button.click()
    panel.work.wait()
    assert "does not exist" in panel.message.value
    panel.room.options = [*panel.room.options, ("crafted", "cls_0000000000000000")]
    panel.room.value = "cls_0000000000000000"
    assert "does not exist" in panel.message.value


def test_in_a_notebook_a_one_time_password_opens_only_the_choose_your_own_form(ws, teacher):
    room = C.create_class(ws, teacher, "Art")
    (ada,), _ = C.add_students(ws, teacher, room.id, [("Ada Lovelace", "")])
    app = App(ws)
    sign_in(app, ada.username, ada.password)
    assert app.session is None and app.login.choose.layout.display == "" and "choose your own" in app.login.message.value
    app.login.new_password.value, app.login.repeat.value = "ada-own-password", "ada-other"
    app.login.save_button.click()
    assert app.session is None and "differ" in app.login.message.value
    app.login.repeat.value = "ada-own-password"
    app.login.save_button.click()
    assert app.user.username == ada.username and not app.user.must_change
    assert auth.log_in(ws, ada.username, "ada-own-password").id == app.user.id
