"""A dataset's inbox of unsorted pictures: added through the same checks as sorted ones, counted in the
owner's space, nobody else's, and filed into classes (a new version) or discarded without losing a picture."""

import io

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.accounts.quota import QuotaError, my_usage
from nocode_widgets.datasets.manifest import INBOX, read_manifest
from nocode_widgets.datasets.uploads import UploadedFile
from nocode_widgets.errors import DatasetError, NotFound
from tests.conftest import make_workspace
from tests.images import class_files, make_zip, picture


def sorted_dataset(ws, user, per_class=3):
    report = D.import_archive(ws, user, io.BytesIO(make_zip(class_files(("red", "blue"), per_class))), name="colours")
    return D.get_dataset(ws, user, report.dataset_id)


def loose(count, seed=500, color=(120, 120, 40)):
    return [UploadedFile(f"loose-{i}.jpg", picture(color, seed=seed + i)) for i in range(count)]


def test_unsorted_pictures_and_a_zip_wait_in_the_inbox_and_are_not_training_data(ws, alice):
    ds = sorted_dataset(ws, alice)
    archive = make_zip({"holiday/a.jpg": picture(seed=900), "b.jpg": picture(seed=901), "deep/x/y/c.jpg": picture(seed=902),
                        "__MACOSX/._a.jpg": b"junk"})
    report = D.add_to_inbox(ws, alice, ds.id, loose(2) + [UploadedFile("photos.zip", archive)])
    assert report.accepted == 5 and report.into == "inbox" and report.inbox == 5 and report.ignored == 1
    assert "added to the inbox" in report.summary()
    after = D.get_dataset(ws, alice, ds.id)
    assert after.version == ds.version and after.counts == ds.counts  # training data unchanged
    assert after.inbox == 5 and after.inbox_version == ds.inbox_version + 1
    waiting = D.inbox_pictures(ws, alice, ds.id)
    assert {p.original for p in waiting} == {"loose-0.jpg", "loose-1.jpg", "holiday/a.jpg", "b.jpg", "deep/x/y/c.jpg"}
    folder = D.dataset_folder(ws, after)
    assert all((folder / p.file).is_file() and p.file.startswith("inbox/") for p in waiting)
    assert len(D.read_manifest(folder)) == 6  # the sorted pictures only


def test_the_inbox_refuses_what_is_not_a_picture_and_what_is_already_there(ws, alice):
    ds = sorted_dataset(ws, alice)
    sorted_red = class_files(("red", "blue"), 3)["red/0.jpg"]
    report = D.add_to_inbox(ws, alice, ds.id, [UploadedFile("notes.txt", b"hello"), UploadedFile("red.jpg", sorted_red),
                                               *loose(1), *loose(1)])
    assert report.accepted == 1
    assert [s.name for s in report.skipped] == ["notes.txt"] and "picture" in report.skipped[0].reason
    assert [c.reason for c in report.conflicts] == ["the same picture is already in class 'red'"]
    assert report.duplicates == ["loose-0.jpg"]
    with pytest.raises(DatasetError, match="not a zip"):
        D.add_to_inbox(ws, alice, ds.id, [UploadedFile("broken.zip", b"PK\x03\x04 not really")])
    assert D.get_dataset(ws, alice, ds.id).inbox == 1


def test_the_inbox_has_a_cap_and_counts_in_the_owners_space(tmp_path):
    from nocode_widgets.accounts import auth

    ws = make_workspace(tmp_path / "data", max_inbox_pictures=3)
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = sorted_dataset(ws, alice)
    before = my_usage(ws, alice).used
    report = D.add_to_inbox(ws, alice, ds.id, loose(5))
    assert report.accepted == 3 and [s.reason for s in report.skipped] == ["the inbox is full (3 pictures at most)"] * 2
    assert my_usage(ws, alice).used > before
    folder = D.dataset_folder(ws, D.get_dataset(ws, alice, ds.id))
    assert len(list((folder / "inbox").iterdir())) == 3  # the refused ones' files were not kept
    with pytest.raises(DatasetError, match="inbox is full"):  # refused before any picture is read
        D.add_to_inbox(ws, alice, ds.id, loose(1, seed=900))


def test_an_inbox_upload_past_the_space_keeps_nothing(tmp_path):
    from nocode_widgets.accounts import auth

    ws = make_workspace(tmp_path / "data", max_bytes_per_user=60_000)
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = sorted_dataset(ws, alice, per_class=2)
    big = [UploadedFile(f"big-{i}.png", picture(seed=i, size=(160, 160), fmt="PNG")) for i in range(12)]
    with pytest.raises(QuotaError, match="space ran out"):
        D.add_to_inbox(ws, alice, ds.id, big)
    after = D.get_dataset(ws, alice, ds.id)
    assert after.inbox == 0 and not list((D.dataset_folder(ws, after) / "inbox").glob("*.jpg"))


def test_another_persons_inbox_is_nobodys_business(ws, alice, bob):
    ds = sorted_dataset(ws, alice)
    D.add_to_inbox(ws, alice, ds.id, loose(2))
    picture_id = D.inbox_pictures(ws, alice, ds.id)[0].id
    for act in (lambda: D.add_to_inbox(ws, bob, ds.id, loose(1, seed=700)),
                lambda: D.inbox_pictures(ws, bob, ds.id),
                lambda: D.file_pictures(ws, bob, ds.id, {picture_id: "red"}),
                lambda: D.discard_pictures(ws, bob, ds.id, [picture_id])):
        with pytest.raises(NotFound):
            act()
    assert D.get_dataset(ws, alice, ds.id).inbox == 2


def test_filing_moves_pictures_into_their_classes_as_a_new_version(ws, alice):
    ds = sorted_dataset(ws, alice)
    D.add_to_inbox(ws, alice, ds.id, loose(3))
    first, second, third = D.inbox_pictures(ws, alice, ds.id)
    after = D.file_pictures(ws, alice, ds.id, {first.id: "red", second.id: "blue"})
    assert after.version == ds.version + 1 and after.counts == {"red": 4, "blue": 4} and after.inbox == 1
    folder = D.dataset_folder(ws, after)
    filed = {e.original: e for e in D.read_manifest(folder)}
    assert filed[first.original].label == "red" and filed[second.original].label == "blue"
    assert (folder / filed[first.original].file).is_file() and not (folder / first.file).exists()
    assert [p.id for p in D.inbox_pictures(ws, alice, ds.id)] == [third.id]
    with pytest.raises(DatasetError, match="no class called 'green'"):
        D.file_pictures(ws, alice, ds.id, {third.id: "green"})
    with pytest.raises(DatasetError, match="filed or discarded"):
        D.file_pictures(ws, alice, ds.id, {first.id: "red"})
    gone = D.discard_pictures(ws, alice, ds.id, [third.id])
    assert gone.inbox == 0 and gone.version == after.version and not (folder / third.file).exists()
    assert read_manifest(folder, INBOX) == []


def test_a_picture_waiting_in_the_inbox_leaves_it_when_it_is_added_to_a_class(ws, alice):
    ds = sorted_dataset(ws, alice)
    [one] = loose(1)
    D.add_to_inbox(ws, alice, ds.id, [one])
    after = D.add_uploads(ws, alice, ds.id, "red", [one])
    assert after.accepted == 1 and after.inbox == 0
    assert D.inbox_pictures(ws, alice, ds.id) == []
    folder = D.dataset_folder(ws, D.get_dataset(ws, alice, ds.id))
    assert not list((folder / "inbox").glob("*.jpg"))
    assert all((folder / e.file).is_file() for e in D.read_manifest(folder))
