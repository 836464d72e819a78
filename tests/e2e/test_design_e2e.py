"""The page's design, checked in Voila + Chromium with a dataset and a finished run: axe-core finds nothing of
impact serious or critical on any panel (every section opened, every way of adding pictures shown); each
panel's main action is in the first window at 1280x720; 12 tested pictures take at most two windows; and
screenshots of every panel at 1280x720 and 1400x1000 go to test-artifacts/e2e/ for people to look at."""

import io
import time

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from nocode_widgets.datasets.uploads import UploadedFile
from nocode_widgets.workspace import Workspace
from nocode_widgets import classroom as C
from tests.classroom.conftest import hidden_zip
from tests.e2e.accessibility import axe_violations, in_first_view, open_every_section
from tests.e2e.conftest import shot, sign_in_at_door
from tests.e2e.test_app_e2e import upload_files
from tests.images import COLORS, class_files, make_zip, picture
from tests.training_helpers import train

pytestmark = pytest.mark.e2e
PANELS = ("Datasets", "Train", "Results", "Test", "Class", "Admin")
MAIN_ACTION = {"Datasets": ("button", "Add pictures to the class"), "Train": ("button", "Start training"),
               "Results": (".nocode-headline", None), "Test": ("button", "Choose pictures to test"),
               "Class": (".nocode-class .nocode-card", None), "Admin": (".nocode-admin .nocode-card", None)}


@pytest.fixture(scope="module")
def designer(server):
    ws = Workspace.open(server["data_dir"])
    user = auth.sign_up(ws, "designer", "a-good-password")  # the first account: an administrator
    report = D.import_archive(ws, user, io.BytesIO(make_zip(class_files(("red", "blue"), 12, size=(40, 30)))),
                              name="Colours")
    ds = D.get_dataset(ws, user, report.dataset_id)
    train(ws, user, ds)
    D.add_to_inbox(ws, user, ds.id, [UploadedFile(f"loose-{i}.jpg", picture(seed=300 + i)) for i in range(3)])
    room = C.create_class(ws, user, "Design class")  # an administrator teaches too: every teacher's section shows
    C.create_assignment(ws, user, room.id, ds.id, io.BytesIO(hidden_zip(per_class=2)), time.time() + 3600)
    return ws, user


def main_action(page, tab):
    where, name = MAIN_ACTION[tab]
    panel = page.locator(f".nocode-{'test' if tab == 'Test' else tab.lower()}:visible").first
    return panel.get_by_role("button", name=name) if where == "button" else page.locator(f"{where}:visible").first


def test_every_panel_passes_axe_and_shows_its_main_action_first(server, designer, page, tmp_path):
    page.set_viewport_size({"width": 1280, "height": 720})
    sign_in_at_door(page, server["url"], "designer")
    found = {}
    for tab in PANELS:
        page.get_by_role("tab", name=tab).click()
        action = main_action(page, tab)
        action.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        assert in_first_view(page, action), f"{tab}: its main action is below the first window"
        scope = f".nocode-{'test' if tab == 'Test' else tab.lower()}"
        if tab == "Test":  # twelve answers on screen, as a person would see them
            paths = []
            for i in range(12):
                path = tmp_path / f"new-{i}.jpg"
                path.write_bytes(picture(COLORS["red" if i % 2 else "blue"], size=(40, 30), seed=900 + i))
                paths.append(str(path))
            upload_files(page, scope, "Choose pictures to test", paths)
            page.locator(f"{scope} .nocode-answer").nth(11).wait_for(timeout=120_000)
            grid = page.locator(f"{scope} .nocode-answers").bounding_box()
            assert grid["height"] <= 2 * 720, f"12 answers take {grid['height']:.0f} px, more than two windows"
            found["test grid height"] = grid["height"]
        opened = open_every_section(page, scope)
        found[f"{tab}: sections opened"] = opened
        violations = axe_violations(page)
        if tab == "Datasets":  # every way of adding pictures, each checked as shown
            for source in ("A zip of class folders", "Camera"):
                page.locator(scope).get_by_role("button", name=source, exact=True).click()
                page.wait_for_timeout(500)
                violations += axe_violations(page)
            page.locator(scope).get_by_role("button", name="Show suggestions").click()
            page.locator(f"{scope} .nocode-label-card").first.wait_for(timeout=120_000)
            violations += axe_violations(page)
        assert violations == [], f"{tab}: {violations}"
    for width, height in ((1280, 720), (1400, 1000)):
        page.set_viewport_size({"width": width, "height": height})
        for tab in PANELS:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(400)
            shot(page, f"design-{tab.lower()}-{width}x{height}")
    print(found)
