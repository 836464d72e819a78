import io
import time

import pytest

from nocode_widgets import classroom as C
from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from tests.images import COLORS, make_zip, picture
from tests.training_helpers import colour_dataset, train


def hidden_zip(classes=("red", "blue"), per_class=10, seed=50_000) -> bytes:
    """A hidden test set: pictures of the classes' colours that are in no training set (other seeds)."""
    return make_zip({f"{c}/h{i}.jpg": picture(COLORS[c], size=(40, 30), seed=seed + k * 1000 + i)
                     for k, c in enumerate(classes) for i in range(per_class)})


def sign_in_fresh(ws, account):
    """A roster's account choosing its own password (what the door makes them do), then signed in."""
    auth.choose_own_password(ws, account.username, account.password, f"own-{account.password}")
    return auth.log_in(ws, account.username, f"own-{account.password}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A teacher, a class of three students from a roster, a shared two-colour dataset and an assignment."""
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp("classroom") / "data")
    admin = auth.sign_up(ws, "admin", "password-admin")
    teacher = auth.create_account(ws, admin, "teacher", "password-teacher", role="teacher")
    room = C.create_class(ws, teacher, "Biology 1")
    made, skipped = C.add_students(ws, teacher, room.id, C.read_roster("name\nAda Lovelace\nAlan Turing\nGrace Hopper\n"))
    assert not skipped
    students = [sign_in_fresh(ws, a) for a in made]
    ds = colour_dataset(ws, teacher, classes=("red", "blue"), per_class=12, name="colours")
    deadline = time.time() + 3600
    work = C.create_assignment(ws, teacher, room.id, ds.id, io.BytesIO(hidden_zip()), deadline, title="Colours",
                               metric="accuracy", per_day=3)
    return ws, admin, teacher, room, students, ds, work


@pytest.fixture(scope="module")
def good_run(course):
    ws, _, _, _, students, _, work = course
    return train(ws, students[0], D.get_dataset(ws, students[0], work.dataset_id))
