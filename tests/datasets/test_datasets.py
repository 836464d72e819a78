import io
from pathlib import Path

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.errors import DatasetError, NotFound
from nocode_widgets.store import Table
from nocode_widgets.datasets.uploads import read_upload
from tests.conftest import make_workspace
from tests.images import class_files, make_zip, picture, png_bomb


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def import_zip(ws, user, files, name="pets", **kw):
    return D.import_archive(ws, user, io.BytesIO(make_zip(files)), name=name, **kw)


# Creating and organizing ---------------------------------------------------------------------------

def test_create_dataset_with_classes(ws, alice):
    ds = D.create_dataset(ws, alice, "Fruit", ["apple", "pear"])
    assert ds.classes == ("apple", "pear") and ds.counts == {"apple": 0, "pear": 0}
    assert [d.name for d in D.list_datasets(ws, alice)] == ["Fruit"]


def test_dataset_names_are_unique_per_user_ignoring_case(ws, alice, bob):
    D.create_dataset(ws, alice, "Fruit")
    with pytest.raises(DatasetError, match="already have a dataset"):
        D.create_dataset(ws, alice, "FRUIT")
    D.create_dataset(ws, bob, "Fruit")  # another user's namespace


def test_rename_dataset_and_refuse_a_taken_name(ws, alice):
    a = D.create_dataset(ws, alice, "A")
    D.create_dataset(ws, alice, "B")
    assert D.rename_dataset(ws, alice, a.id, "Apples").name == "Apples"
    with pytest.raises(DatasetError):
        D.rename_dataset(ws, alice, a.id, "b")


def test_classes_added_renamed_deleted(ws, alice):
    ds = D.create_dataset(ws, alice, "pets", ["cats", "dogs"])
    D.add_uploads(ws, alice, ds.id, "cats", read_upload([{"name": "c.jpg", "content": memoryview(picture(seed=1))}]))
    ds = D.add_class(ws, alice, ds.id, "고양이 새끼")
    assert ds.classes == ("cats", "dogs", "고양이 새끼")
    with pytest.raises(DatasetError, match="already has a class"):
        D.add_class(ws, alice, ds.id, "CATS")
    ds = D.rename_class(ws, alice, ds.id, "cats", "kittens")
    assert ds.counts["kittens"] == 1 and {e.label for e in D.read_manifest(D.dataset_folder(ws, ds))} == {"kittens"}
    ds = D.delete_class(ws, alice, ds.id, "kittens")
    assert ds.classes == ("dogs", "고양이 새끼") and D.read_manifest(D.dataset_folder(ws, ds)) == []
    assert not list((D.dataset_folder(ws, ds) / "images").iterdir())


def test_delete_images_and_dataset(ws, alice):
    report = import_zip(ws, alice, class_files(per_class=3))
    ds = D.get_dataset(ws, alice, report.dataset_id)
    entry = D.read_manifest(D.dataset_folder(ws, ds))[0]
    ds2 = D.delete_images(ws, alice, ds.id, [entry.hash])
    assert ds2.image_count == 5 and ds2.version == ds.version + 1
    assert not (D.dataset_folder(ws, ds) / entry.file).exists()
    D.delete_dataset(ws, alice, ds.id)
    assert D.list_datasets(ws, alice) == [] and not D.dataset_folder(ws, ds).exists()


# Ownership --------------------------------------------------------------------------------------------

def test_someone_elses_dataset_is_not_found(ws, alice, bob):
    from nocode_widgets.accounts import auth

    carol = auth.sign_up(ws, "carol", "password123")
    ds = D.create_dataset(ws, bob, "secret", ["a", "b"])
    for who in (carol, alice):  # alice is an admin: she may look, not change
        with pytest.raises(NotFound):
            D.rename_dataset(ws, who, ds.id, "mine")
    with pytest.raises(NotFound):
        D.get_dataset(ws, carol, ds.id)
    for attempt in (lambda: D.rename_dataset(ws, alice, ds.id, "mine"),
                    lambda: D.delete_dataset(ws, alice, ds.id),
                    lambda: D.add_uploads(ws, alice, ds.id, "a", []),
                    lambda: import_zip(ws, alice, class_files(), dataset_id=ds.id)):
        with pytest.raises(NotFound):
            attempt()
    with pytest.raises(NotFound):
        D.get_dataset(ws, bob, D.create_dataset(ws, alice, "alices").id)  # bob is not an admin


def test_admin_sees_all_datasets_but_user_sees_own(ws, alice, bob):
    D.create_dataset(ws, bob, "b1")
    D.create_dataset(ws, alice, "a1")
    assert {d.name for d in D.list_datasets(ws, alice, everyone=True)} == {"a1", "b1"}
    assert {d.name for d in D.list_datasets(ws, bob, everyone=True)} == {"b1"}


# Uploads -------------------------------------------------------------------------------------------------

def test_upload_in_ipywidgets8_and_7_shapes(ws, alice):
    ds = D.create_dataset(ws, alice, "pets", ["cats", "dogs"])
    v8 = ({"name": "a.jpg", "type": "image/jpeg", "size": 1, "content": memoryview(picture(seed=1)), "last_modified": 0},)
    v7 = {"b.png": {"metadata": {"name": "b.png", "type": "image/png", "size": 1}, "content": picture(seed=2, fmt="PNG")}}
    assert D.add_uploads(ws, alice, ds.id, "cats", read_upload(v8)).accepted == 1
    assert D.add_uploads(ws, alice, ds.id, "dogs", read_upload(v7)).accepted == 1
    assert D.get_dataset(ws, alice, ds.id).counts == {"cats": 1, "dogs": 1}


def test_broken_files_in_an_upload_are_skipped_and_the_rest_kept(ws, alice):
    ds = D.create_dataset(ws, alice, "pets", ["cats", "dogs"])
    good = [{"name": f"ok{i}.jpg", "content": picture(seed=i)} for i in range(20)]
    bad = [{"name": "empty.jpg", "content": b""}, {"name": "notes.jpg", "content": b"hello, world"},
           {"name": "cut.jpg", "content": picture(seed=99, size=(300, 300))[:500]},
           {"name": "bomb.png", "content": png_bomb()}]
    report = D.add_uploads(ws, alice, ds.id, "cats", read_upload(good + bad))
    assert report.accepted == 20
    reasons = {s.name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.jpg", "notes.jpg", "cut.jpg", "bomb.png"}
    assert "empty" in reasons["empty.jpg"] and "too large" in reasons["bomb.png"]
    assert "not a picture" in reasons["notes.jpg"] and "damaged" in reasons["cut.jpg"]
    assert len(list((D.dataset_folder(ws, ds) / "images").glob("*.jpg"))) == 20


def test_duplicates_are_stored_once_and_conflicts_reported(ws, alice):
    ds = D.create_dataset(ws, alice, "pets", ["cats", "dogs"])
    same = picture(seed=5)
    r1 = D.add_uploads(ws, alice, ds.id, "cats", read_upload([{"name": "a.jpg", "content": same},
                                                              {"name": "a-copy.jpg", "content": same}]))
    assert r1.accepted == 1 and r1.duplicates == ["a-copy.jpg"]
    r2 = D.add_uploads(ws, alice, ds.id, "dogs", read_upload([{"name": "a-again.jpg", "content": same}]))
    assert r2.accepted == 0 and "already in class 'cats'" in r2.conflicts[0].reason
    assert D.get_dataset(ws, alice, ds.id).counts == {"cats": 1, "dogs": 0}


def test_upload_over_the_byte_limit_is_refused_with_the_limit(tmp_path, alice):
    ws = make_workspace(tmp_path / "d2", max_upload_bytes=10_000)
    from nocode_widgets.accounts import auth

    user = auth.sign_up(ws, "carol", "password123")
    ds = D.create_dataset(ws, user, "pets", ["cats", "dogs"])
    files = read_upload([{"name": f"{i}.jpg", "content": picture(seed=i, size=(64, 64))} for i in range(10)])
    with pytest.raises(DatasetError, match="the limit is 0 MB"):
        D.add_uploads(ws, user, ds.id, "cats", files)
    assert D.get_dataset(ws, user, ds.id).image_count == 0


def test_images_per_dataset_limit_keeps_the_first_and_says_why(tmp_path):
    ws = make_workspace(tmp_path / "d3", max_images_per_dataset=5)
    from nocode_widgets.accounts import auth

    user = auth.sign_up(ws, "carol", "password123")
    report = import_zip(ws, user, class_files(per_class=4))
    assert report.accepted == 5 and len(report.skipped) == 3
    assert all("full (5 pictures at most)" in s.reason for s in report.skipped)
    assert len(list((D.dataset_folder(ws, D.get_dataset(ws, user, report.dataset_id)) / "images").glob("*"))) == 5


# Zips -------------------------------------------------------------------------------------------------

def test_zip_creates_dataset_with_classes_in_one_go(ws, alice):
    report = import_zip(ws, alice, class_files(("red", "blue", "green"), per_class=3))
    assert report.accepted == 9 and report.skipped == []
    ds = D.get_dataset(ws, alice, report.dataset_id)
    assert set(ds.classes) == {"red", "blue", "green"} and ds.name == "pets" and ds.version == 1


def test_zip_with_one_top_folder_around_the_classes(ws, alice):
    report = import_zip(ws, alice, class_files(prefix="pets/"))
    assert report.counts == {"blue": 4, "red": 4}


def test_zip_adds_to_an_existing_dataset_matching_class_case(ws, alice):
    ds = D.create_dataset(ws, alice, "colors", ["Red", "blue"])
    report = import_zip(ws, alice, class_files(("red", "yellow")), dataset_id=ds.id)
    assert report.counts == {"Red": 4, "blue": 0, "yellow": 4}


def test_zip_junk_is_skipped_silently_and_counted(ws, alice):
    files = class_files()
    files.update({"__MACOSX/red/._0.jpg": b"junk", "red/.DS_Store": b"junk", "red/._1.jpg": b"junk",
                  ".ipynb_checkpoints/x.jpg": b"junk", "blue/Thumbs.db": b"junk"})
    report = import_zip(ws, alice, files)
    assert report.accepted == 8 and report.skipped == [] and report.ignored == 5


def test_zip_slip_entries_write_nothing_outside(ws, alice, tmp_path):
    files = class_files()
    files.update({"../evil.jpg": picture(seed=50), "red/../../evil2.jpg": picture(seed=51),
                  "/abs/evil3.jpg": picture(seed=52), "..\\..\\evil4.jpg": picture(seed=53)})
    before = files_under(tmp_path)
    report = import_zip(ws, alice, files)
    assert report.accepted == 8
    assert {s.reason for s in report.skipped} == {"unsafe path in the archive (ignored)"}
    ds_folder = D.dataset_folder(ws, D.get_dataset(ws, alice, report.dataset_id))
    new = files_under(tmp_path) - before
    assert new and all(p.is_relative_to(ds_folder) or p.is_relative_to(ws.settings.data_dir) for p in new)
    assert not any("evil" in p.name for p in files_under(tmp_path))


def test_zip_bomb_entry_is_refused_while_streaming(ws, alice):
    files = class_files()
    files["red/bomb.jpg"] = b"\0" * (300 * 2**20)  # 300 MB of zeros compresses ~1000:1
    report = import_zip(ws, alice, files)
    assert report.accepted == 8
    assert [s.name for s in report.skipped] == ["red/bomb.jpg"]
    assert "zip bomb" in report.skipped[0].reason


def test_lying_entry_size_is_capped_while_streaming(tmp_path):
    ws = make_workspace(tmp_path / "d", max_image_file_bytes=100_000, max_zip_ratio=10**9)
    from nocode_widgets.accounts import auth

    user = auth.sign_up(ws, "carol", "password123")
    files = class_files()
    files["red/huge.jpg"] = b"\0" * 5_000_000
    report = import_zip(ws, user, files)
    assert report.accepted == 8 and "larger than 0 MB when unpacked" in report.skipped[0].reason


def test_non_image_files_in_a_zip_are_reported(ws, alice):
    files = class_files()
    files["red/readme.txt"] = b"some text"
    report = import_zip(ws, alice, files)
    assert [(s.name, "not a picture" in s.reason) for s in report.skipped] == [("red/readme.txt", True)]


def test_file_that_is_not_a_zip(ws, alice):
    with pytest.raises(DatasetError, match="not a zip"):
        D.import_archive(ws, alice, io.BytesIO(b"PK\x03\x04 but not really"), name="x")
    assert D.list_datasets(ws, alice) == []


@pytest.mark.parametrize("files,match", [
    (class_files(("red",)), "Only one class"),
    ({"red/notes.txt": b"x", "blue/notes.txt": b"y"}, "Fewer than two classes had usable pictures"),
    ({}, "No pictures"),
    ({"loose.jpg": picture()}, "No pictures"),
])
def test_zip_without_two_usable_classes_leaves_nothing_behind(ws, alice, files, match):
    with pytest.raises(DatasetError, match=match):
        import_zip(ws, alice, files)
    assert D.list_datasets(ws, alice) == []
    assert not (ws.settings.user_dir(alice.id) / "datasets").exists() or \
        not any((ws.settings.user_dir(alice.id) / "datasets").iterdir())


def test_class_and_file_names_in_any_script(ws, alice):
    files = {"고양이/사진 1.jpg": picture(seed=1), "고양이/사진 2.png": picture(seed=2, fmt="PNG"),
             "chien noir/photo été.jpg": picture(seed=3), "chien noir/b.jpg": picture(seed=4)}
    report = import_zip(ws, alice, files)
    assert report.counts == {"chien noir": 2, "고양이": 2}
    originals = {e.original for e in D.read_manifest(D.dataset_folder(ws, D.get_dataset(ws, alice, report.dataset_id)))}
    assert "고양이/사진 1.jpg" in originals


def test_stored_images_have_content_hash_names_and_manifest(ws, alice):
    report = import_zip(ws, alice, class_files(per_class=2))
    folder = D.dataset_folder(ws, D.get_dataset(ws, alice, report.dataset_id))
    entries = D.read_manifest(folder)
    assert len(entries) == 4
    for e in entries:
        assert e.file == f"images/{e.hash[:32]}.jpg" and (folder / e.file).exists()
        assert e.width == 32 and e.height == 24 and e.original.endswith(".jpg")


def test_store_keeps_only_the_summary(ws, alice):
    import_zip(ws, alice, class_files(per_class=20))
    doc = ws.store.find(Table.DATASETS)[0]
    assert set(doc) == {"id", "owner", "name", "key", "classes", "counts", "version", "created", "updated"}


# Folders ---------------------------------------------------------------------------------------------

def write_tree(root: Path, files: dict) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_folder_import_only_under_import_roots(tmp_path, alice):
    src = write_tree(tmp_path / "share" / "pets", class_files())
    ws = make_workspace(tmp_path / "data")
    from nocode_widgets.accounts import auth

    user = auth.sign_up(ws, "carol", "password123")
    with pytest.raises(DatasetError, match="not allowed"):
        D.import_folder(ws, user, src, name="pets")
    allowed = make_workspace(tmp_path / "data", import_roots=(tmp_path / "share",))
    assert D.import_folder(allowed, user, src, name="pets").accepted == 8
    assert D.import_folder(ws, user, src, name="pets2", any_path=True).accepted == 8  # the CLI


def test_folder_import_does_not_follow_links_out(tmp_path, ws, alice):
    src = write_tree(tmp_path / "src", class_files())
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(picture(seed=77))
    (src / "red" / "link.jpg").symlink_to(secret)
    report = D.import_folder(ws, alice, src, name="pets", any_path=True)
    assert report.accepted == 8 and "outside the folder" in report.skipped[0].reason


# Stats ------------------------------------------------------------------------------------------------

def test_stats_counts_samples_sizes_and_imbalance_warning(ws, alice):
    files = class_files(("red",), per_class=9)
    files.update(class_files(("blue",), per_class=3, size=(64, 48)))
    report = import_zip(ws, alice, files)
    stats = D.dataset_stats(ws, alice, report.dataset_id, per_class=2)
    assert stats.counts == {"blue": 3, "red": 9} and stats.imbalance == 3.0
    assert all(len(v) == 2 and all(p.exists() for p in v) for v in stats.samples.values())
    assert stats.width == (32, 32, 64) and stats.height == (24, 24, 48)
    warning = [w for w in stats.warnings if "imbalanced" in w][0]
    assert "weighted sampling" in warning and "focal loss" in warning


def test_balanced_dataset_has_no_imbalance_warning(ws, alice):
    report = import_zip(ws, alice, class_files(per_class=12))
    assert D.dataset_stats(ws, alice, report.dataset_id).warnings == ()
