"""A data folder written by an older version opens in this one with nothing lost (issue: the store at the scale
of a class and a term). `tests/data/store-v1/` was written by the app at store version 1; see
`tests/data/make_store_v1.py` for how."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from nocode_widgets.accounts import auth, signins
from nocode_widgets import datasets as D
from nocode_widgets.runs import studies as S
from nocode_widgets.export.bundle import make_bundle
from nocode_widgets.migrations import schema_version
from nocode_widgets.predict.onnx import predictor_for
from nocode_widgets.store import Store, Table
from nocode_widgets.store_files import SCHEMA_VERSION, StoreTooNew
from nocode_widgets.runs import jobs
from tests.conftest import make_workspace
from tests.images import COLORS, picture

V1 = Path(__file__).resolve().parent.parent / "data" / "store-v1"


@pytest.fixture
def old_folder(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(V1, folder)
    return folder, json.loads((V1 / "facts.json").read_text())


def test_a_version_1_folder_is_migrated_once_with_a_backup_and_nothing_lost(old_folder):
    folder, facts = old_folder
    before = (folder / "nocode.json").read_bytes()
    ws = make_workspace(folder)
    backups = list(folder.glob("nocode.json.v1-backup-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == before  # the old file, as it was
    assert schema_version(json.loads((folder / "nocode.json").read_text())) == SCHEMA_VERSION
    users = {u.username: u for u in auth.list_users(ws)}
    assert sorted(users) == facts["users"] and users["alice"].is_admin
    for name, datasets in facts["datasets"].items():
        assert [d.name for d in D.list_datasets(ws, users[name])] == datasets
        assert all(d.image_count > 0 for d in D.list_datasets(ws, users[name]))
    alice = users["alice"]
    run = jobs.get(ws, alice, facts["run"])
    assert run.status == "done" and run.metrics["val_accuracy"] == facts["run_accuracy"]
    assert S.get_study(ws, alice, facts["study"]).status == "cancelled"
    assert len(ws.store.find(Table.DEVICES, user=alice.id)) == 1  # the remembered device came across...
    assert signins.find(ws, facts["device_token"], clock=lambda: facts["device_created"] + 60) is None  # ...but a
    # token a browser kept in its storage no longer signs in (the door's cookies do): it signs in once more
    assert auth.log_in(ws, "bob", "password-bob").username == "bob"
    make_workspace(folder)  # opened again: nothing more to do
    assert len(list(folder.glob("nocode.json.v1-backup-*"))) == 1


def test_a_migrated_run_still_predicts_and_exports(old_folder):
    folder, facts = old_folder
    ws = make_workspace(folder)
    alice = auth.find_user(ws, "alice")
    predictor = predictor_for(ws, alice, facts["run"], engine="onnx")
    said = predictor.predict([("red.jpg", picture(COLORS["red"], seed=3))])[0]
    assert said.label in ("red", "blue") and abs(sum(said.probabilities.values()) - 1) < 1e-4
    bundle = make_bundle(ws, alice, facts["run"])
    with zipfile.ZipFile(__import__("io").BytesIO(bundle.zip_bytes())) as z:
        assert {"model.onnx", "model.json", "predict.py", "model_card.md"} <= set(z.namelist())


def test_a_folder_from_a_newer_version_is_refused_in_plain_words(tmp_path):
    (tmp_path / "nocode.json").write_text(json.dumps({"meta": {"1": {"id": "schema", "version": SCHEMA_VERSION + 1}}}))
    with pytest.raises(StoreTooNew, match="newer version of the app .* Update the app"):
        Store(tmp_path / "nocode.json")


def test_a_new_folder_starts_at_the_current_version(tmp_path):
    store = Store(tmp_path / "nocode.json")
    assert store.get(Table.META, "schema")["version"] == SCHEMA_VERSION
    assert not list(tmp_path.glob("*backup*"))


def test_records_without_a_proper_owner_are_kept_aside_not_lost(tmp_path):
    runs = {"1": {"id": "run_01", "owner": "u_1", "status": "done"}, "2": {"id": "run_02", "status": "done"},
            "3": {"id": "run_03", "owner": None}, "4": {"id": "run_04", "owner": "../x"}}
    (tmp_path / "nocode.json").write_text(json.dumps({"users": {"1": {"id": "u_1"}}, "runs": runs,
                                                      "meta": {"1": {"id": "schema", "version": 1}}}))
    store = Store(tmp_path / "nocode.json")
    assert [d["id"] for d in store.find(Table.RUNS)] == ["run_01"] and store.get(Table.USERS, "u_1")
    kept = json.loads((tmp_path / "store" / "orphans-v1.json").read_text())
    assert sorted(o["doc"]["id"] for o in kept) == ["run_02", "run_03", "run_04"]
    assert not (tmp_path / "x").exists() and not (tmp_path / "users" / "records.json").exists()
