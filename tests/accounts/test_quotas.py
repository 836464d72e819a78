"""Disk quotas and housekeeping (issue: shared service)."""

import io
import os

import numpy as np
import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.errors import DatasetError
from nocode_widgets.accounts.quota import QuotaError, usage
from nocode_widgets.runs import jobs
from nocode_widgets.training.data import build_cache
from nocode_widgets.datasets.uploads import UploadedFile
from tests.conftest import make_workspace
from tests.images import class_files, make_zip, picture


def stored_files(ws, user) -> list:
    root = ws.settings.user_dir(user.id)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".lock")


@pytest.fixture
def small(tmp_path):
    ws = make_workspace(tmp_path / "data", max_bytes_per_user=60_000, max_datasets_per_user=2)
    return ws, auth.sign_up(ws, "alice", "password-alice")


def test_an_import_over_the_quota_is_refused_with_the_numbers_and_writes_nothing(small):
    ws, alice = small
    archive = make_zip(class_files(("red", "blue"), per_class=40, size=(120, 90)))
    with pytest.raises(QuotaError, match=r"space ran out after \d+ new pictures \(\d+ KB were left\)"):
        D.import_archive(ws, alice, io.BytesIO(archive), name="big")
    assert D.list_datasets(ws, alice) == [] and stored_files(ws, alice) == []


def test_pictures_added_over_the_quota_leave_the_dataset_as_it_was(small):
    ws, alice = small
    report = D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(per_class=3))), name="pets")
    before, ds = stored_files(ws, alice), D.get_dataset(ws, alice, report.dataset_id)
    files = [UploadedFile(f"{k}.png", picture(size=(200, 150), seed=100 + k, fmt="PNG")) for k in range(30)]
    with pytest.raises(QuotaError, match="nothing was added"):
        D.add_uploads(ws, alice, ds.id, "red", files)
    assert stored_files(ws, alice) == before and D.get_dataset(ws, alice, ds.id).counts == ds.counts


def test_a_full_space_refuses_imports_and_training_up_front(small):
    ws, alice = small
    report = D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(per_class=3))), name="pets")
    ds = D.get_dataset(ws, alice, report.dataset_id)
    (ws.settings.user_dir(alice.id) / "filler.bin").write_bytes(b"\0" * 60_000)
    with pytest.raises(QuotaError, match=r"only 0 KB of your 59 KB is left"):
        D.add_uploads(ws, alice, ds.id, "red", [UploadedFile("x.jpg", picture())])
    with pytest.raises(QuotaError, match="space is full"):
        jobs.submit(ws, alice, ds.id, {})


def test_the_number_of_datasets_per_user_is_limited(small):
    ws, alice = small
    D.create_dataset(ws, alice, "one", ["a", "b"])
    D.create_dataset(ws, alice, "two", ["a", "b"])
    with pytest.raises(QuotaError, match="most one person may have is 2"):
        D.create_dataset(ws, alice, "three", ["a", "b"])
    bob = auth.sign_up(ws, "bob", "password-bob")
    assert D.create_dataset(ws, bob, "one", ["a", "b"])  # per user


def test_usage_counts_pictures_caches_and_runs_per_user(ws, alice, bob):
    D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(per_class=3))), name="pets")
    used = usage(ws, alice.id)
    assert used.used > 0 and usage(ws, bob.id).used == 0
    assert used.text().endswith("of 5.0 GB used")


def test_the_datasets_panel_and_the_admin_panel_show_space_used(ws, alice, bob):
    from nocode_widgets.ui import AdminPanel, DatasetsPanel

    D.import_archive(ws, bob, io.BytesIO(make_zip(class_files(per_class=3))), name="pets")
    assert "of 5.0 GB used" in DatasetsPanel(ws, bob).space.value
    assert "of 5.0 GB" in AdminPanel(ws, alice).users.value


def test_only_the_latest_cache_per_size_is_kept_and_crashed_builds_are_swept(tmp_path):
    folder = tmp_path / "ds"
    paths = []
    for k in range(4):
        path = folder / f"{k}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(picture(seed=k))
        paths.append(path)
    cache = folder / "cache"
    build_cache(paths[:3], ["a", "b", "c"], 16, cache)
    build_cache(paths[:3], ["a", "b", "c"], 24, cache)
    stray = cache / "16px-9-deadbeef.npy.999999999.tmp"  # a build whose process is gone
    stray.write_bytes(b"half")
    array = build_cache(paths, ["a", "b", "c", "d"], 16, cache)  # one more picture: a new version
    assert array.shape == (4, 3, 16, 16)
    assert sorted(p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in cache.glob("*.npy")) == \
        ["16px-4", "24px-3"]
    assert not stray.exists()


def test_a_dataset_deleted_while_pictures_are_added_never_comes_back(ws, alice):
    archive = make_zip(class_files(("red", "blue"), per_class=40))
    ds = D.create_dataset(ws, alice, "pets", ["red", "blue"])
    folder = D.dataset_folder(ws, ds)

    def delete_half_way(done, total):
        if done == 10:
            D.delete_dataset(ws, alice, ds.id)

    with pytest.raises(DatasetError, match="deleted while pictures were being added"):
        D.import_archive(ws, alice, io.BytesIO(archive), dataset_id=ds.id, progress=delete_half_way)
    assert not folder.exists()


def test_an_account_deleted_while_its_import_runs_leaves_no_folder(ws, alice, bob):
    archive = make_zip(class_files(("red", "blue"), per_class=40))

    def delete_account(done, total):
        if done == 10:
            auth.delete_account(ws, alice, bob.id)

    with pytest.raises(Exception):
        D.import_archive(ws, bob, io.BytesIO(archive), name="pets", progress=delete_account)
    assert not ws.settings.user_dir(bob.id).exists()


def test_data_files_are_private_to_the_servers_account(ws, alice):
    from tests.training_helpers import colour_dataset, train

    train(ws, alice, colour_dataset(ws, alice))
    modes = {(p.is_dir(), oct(os.stat(p).st_mode & 0o777)) for p in [ws.settings.data_dir, *ws.settings.data_dir.rglob("*")]}
    assert modes == {(True, "0o700"), (False, "0o600")}
    assert np.load(next(ws.settings.data_dir.rglob("*.npy"))).dtype == np.uint8  # still readable by us


def test_the_admin_panel_measures_one_page_of_users_at_a_time(ws, alice, monkeypatch):
    import nocode_widgets.accounts.usage as A
    from nocode_widgets.ui import AdminPanel

    monkeypatch.setattr(A, "PER_PAGE", 2)
    for name in ("bob", "carol", "dave"):
        auth.sign_up(ws, name, f"password-{name}")
    first, last = A.usage(ws, alice, 0), A.usage(ws, alice, 99)  # a page past the end is the last one
    assert [r.user.username for r in first.rows] == ["alice", "bob"] and first.pages == 2
    assert [r.user.username for r in last.rows] == ["carol", "dave"] and last.page == 1 and len(last.users) == 4
    panel = AdminPanel(ws, alice)
    assert "bob" in panel.users.value and "carol" not in panel.users.value and "1-2 of 4" in panel.page_note.value
    panel.next_page.click()
    assert "carol" in panel.users.value and "bob" not in panel.users.value and panel.next_page.disabled
    assert len(panel.picker.options) == 4  # anyone can still be chosen
