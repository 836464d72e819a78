"""A new user, through the web page alone: sign up, create a dataset, upload pictures with the
file chooser, train, see accuracy and the confusion matrix, test a new picture, log out.
Screenshots of each step go to test-artifacts/e2e/."""

import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from nocode_widgets.accounts import auth
from nocode_widgets.export.bundle import make_bundle
from nocode_widgets.runs import jobs
from nocode_widgets.workspace import Workspace

from tests.e2e.conftest import shot, sign_up_at_door
from tests.images import COLORS, picture

pytestmark = pytest.mark.e2e


def write_pictures(folder, colour, n, seed):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{colour}-{i}.jpg"
        path.write_bytes(picture(COLORS[colour], size=(40, 30), seed=seed + i))
        paths.append(str(path))
    return paths


def upload_files(page, scope: str, button_text: str, paths) -> None:
    """Click the uploader's button and answer the browser's file chooser, as a person would."""
    with page.expect_file_chooser() as chooser:
        page.locator(scope).get_by_role("button", name=button_text).click()
    chooser.value.set_files(paths)


def create_colours(page, folder, per_class: int) -> None:
    """Create the dataset "Colours" (red, blue) and add pictures to each class through the file chooser."""
    page.get_by_placeholder("name of a new dataset").fill("Colours")
    page.get_by_placeholder("classes, comma separated: cats, dogs").fill("red, blue")
    page.get_by_role("button", name="Create dataset").click()
    page.get_by_text("Created Colours").wait_for()
    for k, (colour, seed) in enumerate((("red", 0), ("blue", 100)), 1):
        page.locator(".nocode-datasets select").nth(1).select_option(label=colour)
        upload_files(page, ".nocode-datasets", "Add pictures to the class",
                     write_pictures(folder / colour, colour, per_class, seed))  # added as soon as they arrive
        page.locator(".nocode-datasets select").first.locator(
            f"option:has-text('Colours ({per_class * k} pictures')").wait_for(state="attached")


def test_new_user_from_sign_up_to_a_prediction(server, page, tmp_path):
    timings = {}
    start = time.time()
    page.goto(server["url"] + "/")
    page.get_by_text("Welcome").wait_for()
    timings["page"] = time.time() - start
    shot(page, "01-login")

    # Sign up, on the web server's own page: no kernel runs for it
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill("a-good-password")
    page.get_by_label("Repeat the password").fill("a-good-password")
    start = time.time()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("button", name="Log out").wait_for()
    timings["sign-up to a usable page"] = time.time() - start
    assert page.locator(".nocode-login").count() == 0  # no login panel in the app at all
    shot(page, "02-signed-in")

    create_colours(page, tmp_path, per_class=8)
    assert "8 pictures added" in page.locator(".nocode-msg").first.inner_text()
    shot(page, "03-dataset")

    # Train with Auto
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("Auto:").wait_for()
    start = time.time()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Training started").wait_for()
    shot(page, "04-training")
    page.locator(".nocode-train").get_by_text("Finished").wait_for(timeout=240_000)
    timings["training"] = time.time() - start
    assert "validation accuracy" in page.locator(".nocode-train").inner_text()
    shot(page, "05-trained")

    # Results: accuracy, per-class table and the confusion matrix
    page.get_by_role("tab", name="Results").click()
    results = page.locator(".nocode-results:visible")
    results.get_by_text("Per class and confusion, on the validation pictures").wait_for()
    assert "weighted F1" in results.inner_text() and "precision" in results.inner_text()
    assert results.locator("img").count() >= 2  # learning curves and confusion matrix
    assert "Exported model (ONNX) agrees on" in results.inner_text()
    assert "Can you trust its confidence?" in results.inner_text()  # the reliability diagram and the line
    shot(page, "06-results")
    for attempt in range(3):  # a cell of the confusion matrix: its pictures (again if the tab re-rendered meanwhile)
        results.get_by_title("true red, said red").click()
        try:
            results.get_by_text("True red, said red").wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            assert attempt < 2, results.inner_text()[-2000:]
    shot(page, "06b-confusion-cell")

    # Download the model: the browser saves the bundle, byte for byte what the app made
    with page.expect_download(timeout=60_000) as download:
        results.get_by_role("button", name="Download model").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    ws = Workspace.open(server["data_dir"])
    user = auth.find_user(ws, "newcomer")
    run_id = jobs.runs(ws, user)[0].id
    assert saved.read_bytes() == make_bundle(ws, user, run_id).zip_bytes()

    # Test a new picture, with where it looked
    page.get_by_role("tab", name="Test").click()
    test_panel = page.locator(".nocode-test")
    test_panel.get_by_role("button", name="Options: mirror image").click()
    test_panel.get_by_text("Show where it looked").click()
    new = tmp_path / "new.jpg"
    new.write_bytes(picture(COLORS["red"], size=(40, 30), seed=999))
    upload_files(page, ".nocode-test", "Choose pictures to test", [str(new)])
    test_panel.locator(".nocode-prediction").wait_for()
    prediction = test_panel.locator(".nocode-prediction").inner_text()
    assert ("it is" in prediction or "not sure" in prediction) and "probability" in prediction
    test_panel.get_by_text("Red: the parts that made it say so").wait_for(timeout=120_000)
    assert test_panel.locator("img").count() >= 2, test_panel.inner_text()  # the picture and its heat map
    shot(page, "07-prediction")

    # Never a traceback anywhere
    assert "Traceback" not in page.content()

    # Every panel at a desktop's and a laptop's size, for people to look at
    for width, height in ((1400, 1000), (1280, 720)):
        page.set_viewport_size({"width": width, "height": height})
        for tab in ("Datasets", "Train", "Results", "Test", "Admin"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            shot(page, f"panel-{tab.lower()}-{width}x{height}")

    # Log out
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You have logged out").wait_for()
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_text("Welcome").wait_for()
    shot(page, "08-logged-out")
    print(f"\npage appeared in {timings['page']:.1f} s, training took {timings['training']:.1f} s")


def test_uploaded_pictures_cannot_be_downloaded_through_voila(server, page, tmp_path):
    images = list(server["data_dir"].rglob("images/*.jpg"))
    assert images, "the first test stored pictures under the checkout's data/"
    relative = images[0].relative_to(server["data_dir"].parent.parent)  # data/e2e-.../users/.../x.jpg
    sign_up_at_door(page, server["url"], "filer")  # signed in, with a cookie, yet no file of anyone's
    for prefix in ("/voila/files/", "/files/"):
        try:  # a stranger: refused, or sent to the sign-in page
            reply = urllib.request.urlopen(server["url"] + prefix + str(relative), timeout=30)
            assert "/login" in reply.url and b"Welcome" in reply.read()
        except urllib.error.HTTPError as refused:
            assert refused.code in (403, 404)
        assert page.request.get(server["url"] + prefix + str(relative)).status in (403, 404)