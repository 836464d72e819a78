"""The webcam through the real Voila page, with Chromium's fake camera: holding "Hold to record" puts
pictures into the chosen class, the live test shows the model's class probabilities as frames arrive,
and a page with no camera access says why in plain words (issue: the page as people use it)."""

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import shot, sign_in_at_door
from tests.training_helpers import colour_dataset, train

pytestmark = pytest.mark.e2e
CHROMIUM_EXTRA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def start_camera(page, scope: str):
    camera = page.locator(f"{scope} .nocode-camera")
    camera.get_by_role("button", name="Start camera").click()
    page.wait_for_function("(v) => v.videoWidth > 0", arg=camera.locator("video").element_handle(), timeout=30_000)
    return camera


def test_record_pictures_into_a_class_then_test_live(server, page):
    ws = Workspace.open(server["data_dir"])
    user = auth.sign_up(ws, "camille", "a-good-password")
    ds = colour_dataset(ws, user, per_class=8)
    assert train(ws, user, ds).status == "done"
    sign_in_at_door(page, server["url"], "camille")

    # Record: choose the camera as the source, "blue" as the class, and hold the button for about two seconds
    page.locator(".nocode-datasets").get_by_role("button", name="Camera", exact=True).click()
    page.locator(".nocode-datasets select").nth(1).select_option(label="blue")
    camera = start_camera(page, ".nocode-datasets")
    hold = camera.get_by_role("button", name="Hold to record")
    hold.hover()
    page.mouse.down()
    camera.locator(".nocode-camera-note", has_text="Recording").wait_for()
    page.wait_for_timeout(2000)
    page.mouse.up()
    camera.locator(".nocode-camera-note", has_text="Recorded").wait_for(timeout=60_000)
    recorded = int(camera.locator(".nocode-camera-note").inner_text().split()[1])
    page.get_by_text("pictures added", exact=False).first.wait_for(timeout=60_000)
    assert 4 <= recorded <= 15  # several a second, not one and not a flood
    assert D.get_dataset(ws, user, ds.id).counts == {"red": 8, "green": 8, "blue": 8 + recorded}
    shot(page, "camera-recorded")

    # Live test: probabilities appear and keep coming while the camera runs
    page.get_by_role("tab", name="Test").click()
    camera = start_camera(page, ".nocode-test")
    camera.get_by_role("button", name="Start live test").click()
    live = page.locator(".nocode-test .nocode-live")
    live.wait_for(timeout=30_000)
    assert ("It is" in live.inner_text() or "not sure" in live.inner_text()) and "%" in live.inner_text()  # a test pattern is unlike the training pictures
    first = int(live.get_attribute("data-frames"))
    page.wait_for_timeout(3000)
    later = int(live.get_attribute("data-frames"))
    assert 3 <= later - first <= 14  # a few answers a second, one picture in flight at a time (at most 4/s)
    shot(page, "camera-live")
    camera.get_by_role("button", name="Stop live test").click()
    assert "Traceback" not in page.content()


def test_without_camera_access_the_page_says_why(server, page):
    ws = Workspace.open(server["data_dir"])
    auth.sign_up(ws, "noam", "a-good-password")
    page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")  # as on plain http
    sign_in_at_door(page, server["url"], "noam")
    page.locator(".nocode-datasets").get_by_role("button", name="Camera", exact=True).click()
    camera = page.locator(".nocode-datasets .nocode-camera")
    camera.get_by_role("button", name="Start camera").click()
    assert "HTTPS" in camera.locator(".nocode-camera-note").inner_text()
