"""The labeling loop in Voila + Chromium, as a person does it: upload a zip of unsorted pictures into the
inbox, see the model's suggestions, correct one with a key, accept the sure ones after the confirmation,
train again, and read the before/after in Results."""

import io

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from nocode_widgets.runs import jobs
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import shot, sign_in_at_door
from tests.e2e.test_app_e2e import upload_files
from tests.images import COLORS, class_files, make_zip, picture
from tests.insight.test_suggest import half_and_half
from tests.training_helpers import train

pytestmark = pytest.mark.e2e


def test_unsorted_pictures_labelled_with_the_models_help_then_trained_again(server, page, tmp_path):
    ws = Workspace.open(server["data_dir"])
    user = auth.sign_up(ws, "labeler", "a-good-password")
    report = D.import_archive(ws, user, io.BytesIO(make_zip(class_files(("red", "blue"), 14, size=(40, 30)))),
                              name="Colours")
    first = train(ws, user, D.get_dataset(ws, user, report.dataset_id))
    files = {f"trip/{c}-{i}.jpg": picture(COLORS[c], size=(40, 30), seed=8000 + 100 * k + i)
             for k, c in enumerate(("red", "blue")) for i in range(7)}
    files["trip/odd.jpg"] = half_and_half()
    (tmp_path / "holiday.zip").write_bytes(make_zip(files))

    sign_in_at_door(page, server["url"], "labeler")
    inbox = page.locator(".nocode-inbox")
    page.get_by_role("button", name="Inbox: pictures not sorted yet").click()  # the section opens
    upload_files(page, ".nocode-inbox", "Add unsorted pictures or a zip", [str(tmp_path / "holiday.zip")])
    page.get_by_text("15 pictures added to the inbox").first.wait_for(timeout=120_000)
    inbox.get_by_text("15 pictures waiting").wait_for()

    inbox.get_by_role("button", name="Show suggestions").click()
    cards = inbox.locator(".nocode-label-card")
    cards.first.wait_for(timeout=120_000)
    assert cards.count() == 15
    first_card = cards.first
    assert "odd.jpg" in first_card.get_attribute("aria-label")  # the model's hardest picture first
    shot(page, "inbox-suggestions")
    first_card.focus()
    page.keyboard.press("1")  # class 1 is blue (the classes are in the dataset's order)
    first_card = inbox.locator(".nocode-label-card").first
    first_card.locator("button[aria-pressed='true']", has_text="blue").wait_for()
    # only the corrected one is filed now: the others are left unchosen (0 on each)
    for k in range(1, 15):
        inbox.locator(".nocode-label-card").nth(k).focus()
        page.keyboard.press("0")
    inbox.locator(".nocode-label-card[aria-label*='Not filed']").nth(13).wait_for()
    # the kernel counts what it has: waiting for "(1)" means no key press is still on its way
    inbox.get_by_role("button", name="File the chosen (1)").click()
    page.get_by_text("Filed 1 into blue").wait_for()
    ds = D.get_dataset(ws, user, report.dataset_id)
    assert ds.counts == {"red": 14, "blue": 15} and ds.inbox == 14

    inbox.get_by_role("button", name="Surest first").click()
    inbox.get_by_role("button", name="Show suggestions").click()
    inbox.get_by_text("14 waiting").wait_for()
    inbox.get_by_role("button", name="Accept all sure ones…").click()
    question = page.locator(".nocode-datasets").get_by_text("pictures the model is sure about")
    question.wait_for()
    shot(page, "inbox-accept-sure")
    page.get_by_role("button", name="Yes, file them").click()
    page.get_by_text("still waiting").first.wait_for()
    ds = D.get_dataset(ws, user, report.dataset_id)
    assert ds.image_count > 29 and ds.inbox == 43 - ds.image_count

    inbox.get_by_role("button", name="Train again with the new pictures").click()
    page.get_by_text("Training again as").wait_for()
    again = next(r for r in jobs.runs(ws, user) if r.follows == first.id)
    for _ in jobs.follow(ws, user, again.id, interval=0.5, timeout=300):
        pass
    page.get_by_role("tab", name="Results").click()
    results = page.locator(".nocode-results:visible")
    results.get_by_text("neither model trained on").wait_for(timeout=60_000)
    shot(page, "inbox-before-after")
    assert "Traceback" not in page.content()
