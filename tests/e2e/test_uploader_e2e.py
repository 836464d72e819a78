"""Uploads in chunks through the real Voila page (32 MiB websocket cap) in Chromium: a 100 MB zip arrives
whole with the progress bar moving, a file over the limit is refused before a byte is sent, and Cancel
part-way keeps nothing (issue: the page as people use it)."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import sign_up_at_door
from tests.e2e.test_app_e2e import upload_files

pytestmark = pytest.mark.e2e
REPO_VOILA = json.loads(open("voila.json").read())


def big_zip(path, megabytes: int) -> None:
    """Class folders of noisy photos (they hardly compress) until the zip passes `megabytes`."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        k = 0
        while path.stat().st_size < megabytes * 2**20 if path.exists() else True:
            out = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(out, "JPEG", quality=95)
            z.writestr(f"{'noise' if k % 2 else 'static'}/{k}.jpg", out.getvalue())
            k += 1
            z.fp.flush()


def uploads_left(server) -> list:
    return list(server["data_dir"].glob("users/*/tmp/uploads/*"))


def test_the_websocket_cap_is_32_mib():
    assert REPO_VOILA["Voila"]["tornado_settings"]["websocket_max_message_size"] <= 32 * 2**20


def choose_zip(page) -> None:
    """Add pictures from: a zip of class folders."""
    page.locator(".nocode-datasets").get_by_role("button", name="A zip of class folders", exact=True).click()
    page.locator(".nocode-datasets").get_by_role("button", name="Import a zip of class folders").wait_for()


def test_a_100_mb_zip_arrives_whole_with_the_progress_bar_moving(server, page, tmp_path):
    sign_up_at_door(page, server["url"], "uma")
    archive = tmp_path / "photos.zip"
    big_zip(archive, 100)
    choose_zip(page)
    upload_files(page, ".nocode-datasets", "Import a zip of class folders", [str(archive)])
    bar = page.locator(".nocode-datasets .nocode-upload-progress").nth(1)
    seen = set()
    for _ in range(400):
        value = page.evaluate("(el) => el.value", bar.element_handle())
        seen.add(round(value / 2**20))
        if "Received 1 file" in page.locator(".nocode-datasets .nocode-upload-note").nth(1).inner_text():
            break
        page.wait_for_timeout(50)
    assert len([s for s in seen if 0 < s < 100]) >= 3  # it moved through the upload
    page.get_by_text("pictures added", exact=False).first.wait_for(timeout=300_000)
    ws = Workspace.open(server["data_dir"])
    ds = D.list_datasets(ws, auth.find_user(ws, "uma"))[0]
    with zipfile.ZipFile(archive) as z:
        assert ds.image_count == len(z.namelist())  # every picture of the zip, nothing lost on the way
    assert uploads_left(server) == []


def test_a_file_over_the_limit_is_refused_before_anything_is_sent(server, page, tmp_path):
    sign_up_at_door(page, server["url"], "vic")
    huge = tmp_path / "huge.zip"
    with open(huge, "wb") as f:
        f.truncate(201 * 2**20)  # 201 MB (sparse): over the 200 MB limit
    before = uploads_left(server)
    choose_zip(page)
    upload_files(page, ".nocode-datasets", "Import a zip of class folders", [str(huge)])
    note = page.locator(".nocode-datasets .nocode-upload-note").nth(1)
    note.get_by_text("the limit is 200.0 MB").wait_for()
    assert uploads_left(server) == before == []  # the kernel never heard of it


def test_cancel_part_way_keeps_nothing(server, page, tmp_path):
    sign_up_at_door(page, server["url"], "wes")
    archive = tmp_path / "photos.zip"
    big_zip(archive, 60)
    choose_zip(page)
    upload_files(page, ".nocode-datasets", "Import a zip of class folders", [str(archive)])
    page.locator(".nocode-datasets .nocode-upload-note").nth(1).get_by_text(" of ").wait_for()
    page.locator(".nocode-datasets .nocode-upload-cancel").nth(1).click()
    page.locator(".nocode-datasets .nocode-upload-note").nth(1).get_by_text("Cancelled: nothing was kept.").wait_for()
    ws = Workspace.open(server["data_dir"])
    assert D.list_datasets(ws, auth.find_user(ws, "wes")) == [] and uploads_left(server) == []
