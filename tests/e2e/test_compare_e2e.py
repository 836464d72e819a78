"""Through the Voila page alone (issue: studies and ensembles): compare two models, read the table, the plot
and the recommendation, combine them into an ensemble, test a picture with it and download it."""

import time

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.runs import studies as S
from nocode_widgets.export.bundle import make_bundle
from nocode_widgets.runs import jobs
from nocode_widgets.ui.results import run_label
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import shot, sign_up_at_door
from tests.e2e.test_app_e2e import create_colours, upload_files
from tests.images import COLORS, picture

pytestmark = pytest.mark.e2e


def wait_until_trained(ws, user, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = S.list_studies(ws, user)
        if found and not S.is_active(ws, found[0]):
            return found[0]
        jobs.runs(ws, user)  # reading moves the queue, as a page does
        time.sleep(0.5)
    raise AssertionError("the comparison did not finish")


def test_compare_combine_test_and_download_through_the_page(server, page, tmp_path):
    sign_up_at_door(page, server["url"], "student")
    create_colours(page, tmp_path, per_class=6)

    page.get_by_role("tab", name="Train").click()
    compare = page.locator(".nocode-compare")
    compare.get_by_text("Compare models").click()
    compare.locator("select").first.select_option(label="Choose models")
    compare.locator("select[multiple]").select_option(label=["Small CNN", "MNASNet 0.5"])
    compare.locator("input[type=number]").fill("2")
    compare.locator("input[type=number]").press("Tab")
    compare.get_by_role("button", name="Start comparison").click()
    compare.get_by_text("Comparison started: 2 models queued").wait_for(timeout=60_000)
    shot(page, "compare-01-started")
    ws = Workspace.open(server["data_dir"])
    user = auth.find_user(ws, "student")
    study = wait_until_trained(ws, user)
    assert [jobs.get(ws, user, r).status for r in study.runs] == ["done", "done"]

    page.get_by_role("tab", name="Results").click()
    results = page.locator(".nocode-results:visible")
    results.get_by_role("button", name="All runs, comparisons and ensembles").click()
    studies = results.locator(".nocode-studies")
    studies.get_by_text("Recommended:").wait_for(timeout=60_000)
    table = studies.locator("table").inner_text()
    assert "Small CNN" in table and "MNASNet 0.5" in table and "pictures/s" in table and "peak memory" in table
    assert studies.locator("img").count() == 1  # validation accuracy per epoch, one line per model
    shot(page, "compare-02-table")

    results.get_by_text("Combine runs into an ensemble").click()
    maker = results.locator(".nocode-ensemble")
    maker.locator("select[multiple]").select_option(index=[0, 1])
    maker.locator("input[type=text]").first.fill("pair")
    maker.get_by_role("button", name="Combine into an ensemble").click()
    maker.get_by_text("Made pair").wait_for(timeout=60_000)
    results.get_by_text("Soft vote of 2 models").first.wait_for(timeout=60_000)
    shot(page, "compare-03-ensemble")
    ensemble = next(r for r in jobs.runs(ws, user) if r.kind == "ensemble")
    with page.expect_download(timeout=60_000) as download:
        results.get_by_role("button", name="Download model").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_bytes() == make_bundle(ws, user, ensemble.id).zip_bytes()

    page.get_by_role("tab", name="Test").click()
    test_panel = page.locator(".nocode-test")
    test_panel.locator("select").first.select_option(label=run_label(ensemble))
    new = tmp_path / "new.jpg"
    new.write_bytes(picture(COLORS["red"], size=(40, 30), seed=999))
    upload_files(page, ".nocode-test", "Choose pictures to test", [str(new)])
    test_panel.locator(".nocode-prediction").wait_for(timeout=60_000)
    prediction = test_panel.locator(".nocode-prediction").inner_text()
    assert ("it is" in prediction or "not sure" in prediction) and "probability" in prediction
    assert "Traceback" not in page.content()
    shot(page, "compare-04-tested")
