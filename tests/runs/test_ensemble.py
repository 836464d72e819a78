"""Ensembles (issue: studies and ensembles): a soft vote of finished runs that behaves like any model, scored
only on pictures none of its members trained on, refusing members it cannot combine honestly."""

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from nocode_widgets.accounts import auth
from nocode_widgets import datasets as D
from nocode_widgets.export.bundle import make_bundle
from nocode_widgets.runs.ensemble import make_ensemble
from nocode_widgets.errors import NocodeError, NotFound, TrainingError
from nocode_widgets.insight.explain import explain
from nocode_widgets.files import read_json
from nocode_widgets.pictures.portable import with_temperature
from nocode_widgets.predict.onnx import open_predictor, predictor_for
from nocode_widgets.runs.records import delete_run, run_folder
from tests.conftest import make_workspace
from tests.images import class_files, make_zip
from tests.training_helpers import colour_dataset, train


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """alice's dataset with two runs on the same split, one on another split; bob with a run of his own."""
    ws = make_workspace(tmp_path_factory.mktemp("ensemble") / "data")
    alice, bob = auth.sign_up(ws, "alice", "password-alice"), auth.sign_up(ws, "bob", "password-bob")
    ds = colour_dataset(ws, alice, per_class=10)
    same = [train(ws, alice, ds, lr=0.01), train(ws, alice, ds, lr=0.003, batch_size=4)]
    other = train(ws, alice, ds, seed=5)
    bobs = train(ws, bob, colour_dataset(ws, bob, per_class=4))
    return ws, alice, bob, ds, same, other, bobs


def validation_files(ws, run):
    return set(read_json(run_folder(ws, run) / "predictions.json")["validation"]["files"])


@pytest.mark.slow
def test_an_ensemble_is_scored_on_the_validation_pictures_its_members_share(three):
    ws, alice, _, _, (a, b), _, _ = three
    ens = make_ensemble(ws, alice, [a.id, b.id], name="pair")
    evaluation = read_json(run_folder(ws, ens) / "evaluation.json")
    assert ens.kind == "ensemble" and ens.status == "done" and ens.usable and ens.name == "pair"
    assert list(evaluation) == ["validation"] and evaluation["validation"]["count"] == len(validation_files(ws, a))
    assert validation_files(ws, ens) == validation_files(ws, a) == validation_files(ws, b)
    assert "none of them trained on" in ens.explanation and "different pictures" not in ens.explanation
    assert ens.metrics["split"] == "validation" and 0 <= ens.metrics["val_accuracy"] <= 1


def test_the_ensemble_answers_with_the_weighted_mean_of_its_members(three):
    ws, alice, _, _, (a, b), _, _ = three
    ens = make_ensemble(ws, alice, [a.id, b.id], weights=[3, 1])
    pictures = list(class_files(("red", "green", "blue"), 2, size=(40, 30)).items())
    got = predictor_for(ws, alice, ens.id).predict(pictures)
    pa, pb = (predictor_for(ws, alice, r.id).predict(pictures) for r in (a, b))
    temperature = read_json(run_folder(ws, ens) / "model.json")["temperature"]
    for g, x, y in zip(got, pa, pb):
        mean = 0.75 * np.array(list(x.probabilities.values())) + 0.25 * np.array(list(y.probabilities.values()))
        assert np.allclose(list(g.probabilities.values()), with_temperature(mean[None], temperature)[0], atol=1e-6)
        assert g.label == max(g.probabilities, key=g.probabilities.get)


def test_members_validated_on_other_pictures_are_scored_on_the_intersection_and_say_so(three):
    ws, alice, _, _, (a, _), other, _ = three
    shared = validation_files(ws, a) & validation_files(ws, other)
    assert shared and shared != validation_files(ws, a)  # seed 5 validates on some of the same pictures
    ens = make_ensemble(ws, alice, [a.id, other.id])
    assert validation_files(ws, ens) == shared and "validated on different pictures" in ens.explanation


def test_members_must_know_the_same_classes(tmp_path):
    ws = make_workspace(tmp_path / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, classes=("red", "green"), per_class=6)
    before = train(ws, alice, ds, epochs=1)
    D.import_archive(ws, alice, io.BytesIO(make_zip(class_files(("blue",), 6, size=(40, 30)))), dataset_id=ds.id)
    after = train(ws, alice, D.get_dataset(ws, alice, ds.id), epochs=1)
    with pytest.raises(TrainingError, match=r"do not know the same classes \(green, red vs green, red, blue\)"):
        make_ensemble(ws, alice, [before.id, after.id])


def test_refusals_are_plain_and_leave_nothing_behind(three):
    ws, alice, bob, _, (a, b), _, bobs = three
    count = len(ws.store.find("runs"))
    for ids, message in (([a.id], "2 to 10 different runs"), ([a.id, a.id], "2 to 10 different runs")):
        with pytest.raises(TrainingError, match=message):
            make_ensemble(ws, alice, ids)
    assert alice.is_admin  # the first account: she may look at bob's run, not combine it
    with pytest.raises(TrainingError, match="only be made of your own runs"):
        make_ensemble(ws, alice, [a.id, bobs.id])
    with pytest.raises(NotFound):
        make_ensemble(ws, bob, [a.id, bobs.id])
    with pytest.raises(TrainingError, match="one weight per run"):
        make_ensemble(ws, alice, [a.id, b.id], weights=[1, -1])
    ens = make_ensemble(ws, alice, [a.id, b.id])
    with pytest.raises(TrainingError, match="already an ensemble"):
        make_ensemble(ws, alice, [ens.id, a.id])
    assert len(ws.store.find("runs")) == count + 1


def test_an_ensemble_survives_deleting_a_member_and_has_no_heat_maps(tmp_path):
    ws = make_workspace(tmp_path / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=6)
    a, b = train(ws, alice, ds, epochs=1), train(ws, alice, ds, epochs=1, lr=0.01)
    ens = make_ensemble(ws, alice, [a.id, b.id])
    delete_run(ws, alice, a.id)
    picture = next(iter(class_files(("red",), 1, size=(40, 30)).items()))
    assert predictor_for(ws, alice, ens.id).predict([picture])[0].label in ("red", "green", "blue")
    with pytest.raises(NocodeError, match="one model at a time"):
        explain(ws, alice, ens.id, [picture])


def test_the_downloaded_ensemble_answers_as_the_app_does(three, tmp_path):
    ws, alice, _, _, (a, b), _, _ = three
    ens = make_ensemble(ws, alice, [a.id, b.id])
    bundle = make_bundle(ws, alice, ens.id)
    names = zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())).namelist()
    assert {"members/1/model.onnx", "members/2/model.json", "model.json", "predict.py", "model_card.md"} <= set(names)
    zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())).extractall(tmp_path / "b")
    pictures = class_files(("red", "blue"), 2, size=(40, 30))
    paths = []
    for name, data in pictures.items():
        paths.append(tmp_path / name.replace("/", "-"))
        paths[-1].write_bytes(data)
    out = subprocess.run([sys.executable, str(tmp_path / "b" / "predict.py"), "--json", *map(str, paths)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    app = open_predictor(run_folder(ws, ens)).predict(list(pictures.items()))
    for row, mine in zip(json.loads(out.stdout), app):
        assert row["label"] == mine.label and row["sure"] == mine.sure
        assert np.allclose(list(row["probabilities"].values()), list(mine.probabilities.values()), atol=1e-4)
    assert "Soft vote of 2 models" in (tmp_path / "b" / "model_card.md").read_text()
