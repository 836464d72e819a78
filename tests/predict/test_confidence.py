"""Confidence you can trust (issue 14, item 4): a run's calibration, its files, "not sure" in the predictor,
the CLI and the bundle's predict.py, and how often pictures unlike anything in training come back "not sure"."""

import io
import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from nocode_widgets.predict.onnx import Prediction, predictor_for
from nocode_widgets.runs.records import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import COLORS, picture
from tests.export.test_bundle import run_predict_py


def png(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(out, "PNG")
    return out.getvalue()


def out_of_distribution(n_noise=24) -> list[tuple[str, bytes]]:
    """Plain noise, blank pages (white, black, grey) and stripes: nothing like a picture of one colour."""
    rng = np.random.default_rng(7)
    pictures = [(f"noise-{k}.png", png(rng.integers(0, 256, (48, 48, 3)))) for k in range(n_noise)]
    pictures += [(f"blank-{v}.png", png(np.full((48, 48, 3), v))) for v in (255, 0, 128)]
    stripes = np.zeros((48, 48, 3))
    stripes[::4] = 255
    return pictures + [("stripes.png", png(stripes))]


def test_a_run_is_calibrated_on_validation_and_every_probability_shown_is_the_calibrated_one(trained):
    ws, alice, ds, run = trained
    folder = run_folder(ws, run)
    evaluation = json.loads((folder / "evaluation.json").read_text())["validation"]
    cal = evaluation["calibration"]
    assert cal["count"] == evaluation["count"] and 0.05 <= cal["temperature"] <= 20
    assert 0 <= cal["ece_after"] <= 1 and 0 <= cal["ece_before"] <= 1 and 0 < cal["threshold"] <= 1
    assert sum(b["count"] for b in cal["reliability_before"]) == evaluation["count"]
    card = json.loads((folder / "model.json").read_text())
    assert card["temperature"] == cal["temperature"] and card["sure_threshold"] == cal["threshold"]
    predictions = json.loads((folder / "predictions.json").read_text())["validation"]
    assert len(predictions["files"]) == len(predictions["labels"]) == evaluation["count"]
    assert all(abs(sum(p) - 1) < 1e-3 for p in predictions["probabilities"])
    for m in evaluation["mistakes"]:  # the mistakes' confidence is the calibrated probability
        row = predictions["files"].index(m["file"])
        assert m["confidence"] == pytest.approx(max(predictions["probabilities"][row]), abs=1e-4)


def test_the_predictor_says_not_sure_below_the_threshold(trained):
    ws, alice, ds, run = trained
    predictor = predictor_for(ws, alice, run.id)
    red = [("red.jpg", picture(COLORS["red"], size=(40, 30), seed=99))]
    always, never = predictor.predict(red, threshold=0.0)[0], predictor.predict(red, threshold=1.01)[0]
    assert isinstance(always, Prediction) and always.sure and always.answer == always.label
    assert not never.sure and never.answer == f"not sure (most like {never.label})"
    assert always.probabilities == never.probabilities  # the threshold changes the words, not the numbers
    default = predictor.predict(red)[0]
    assert default.sure == (max(default.probabilities.values()) >= predictor.sure_threshold)


def test_pictures_unlike_anything_in_training_mostly_come_back_not_sure(trained, capsys):
    ws, alice, ds, run = trained
    predictor = predictor_for(ws, alice, run.id)
    results = predictor.predict(out_of_distribution(), threshold=0.0)  # whatever the confidence line says
    rate = sum(not r.sure for r in results) / len(results)
    ordinary = predictor.predict([(f"{c}-{k}.jpg", picture(COLORS[c], size=(40, 30), seed=500 + k))
                                  for c in ("red", "green", "blue") for k in range(10)], threshold=0.0)
    false_alarms = sum(r.unusual for r in ordinary) / len(ordinary)
    with capsys.disabled():
        print(f"\nnot sure on {len(results)} out-of-distribution pictures: {rate:.0%}; "
              f"new pictures like the training ones called unusual: {false_alarms:.0%}")
    assert rate >= 0.8 and all(r.unusual == (not r.sure) for r in results)
    assert false_alarms <= 0.1
    assert "unlike the training pictures" in results[0].answer


def test_nocode_predict_and_the_bundles_predict_py_say_not_sure_the_same_way(trained, tmp_path):
    ws, alice, ds, run = trained
    red = tmp_path / "red.jpg"
    red.write_bytes(picture(COLORS["red"], size=(40, 30), seed=98))
    env = cli_env(ws.settings.data_dir)
    ask = lambda *extra: subprocess.run([*NOCODE, "predict", "--user", "alice", "--run", run.id, str(red), *extra],  # noqa: E731
                                        env=env, capture_output=True, text=True, timeout=120)
    unsure, sure = ask("--sure-above", "1.01"), ask("--sure-above", "0", "--json")
    assert unsure.returncode == 1 and "between 0 and 1" in unsure.stderr  # 1.01 is not a probability
    assert sure.returncode == 0 and json.loads(sure.stdout)[0]["sure"] is True
    strict = ask("--sure-above", "1")
    assert strict.returncode == 0 and ("not sure (most like" in strict.stdout or "(100%)" in strict.stdout)
    out = tmp_path / "bundle"
    assert subprocess.run([*NOCODE, "export", "--user", "alice", "--run", run.id, "--out", str(out)], env=env,
                          capture_output=True, timeout=120).returncode == 0
    card = json.loads((out / "model.json").read_text())
    assert card["temperature"] == predictor_for(ws, alice, run.id).temperature
    mine = predictor_for(ws, alice, run.id).predict([("red.jpg", red.read_bytes())])[0]
    theirs = run_predict_py(out, [red])[0][0]
    assert theirs["sure"] == mine.sure and theirs["label"] == mine.label
    assert theirs["probabilities"] == pytest.approx(mine.probabilities, abs=1e-5)


def test_nocode_runs_cell_lists_a_confusion_cells_pictures_with_their_probabilities(trained):
    ws, alice, ds, run = trained
    env = cli_env(ws.settings.data_dir)
    cell = lambda *a: subprocess.run([*NOCODE, "runs", "cell", run.id, *a], env=env, capture_output=True,  # noqa: E731
                                     text=True, timeout=120)
    out = cell("--user", "alice", "--true", "red", "--said", "red", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    evaluation = json.loads((run_folder(ws, run) / "evaluation.json").read_text())["validation"]
    classes = [c["label"] for c in evaluation["per_class"]]
    assert len(rows) == evaluation["confusion"][classes.index("red")][classes.index("red")]
    assert all(r["file"].startswith("images/") and max(r["probabilities"], key=r["probabilities"].get) == "red"
               for r in rows)
    text = cell("--true", "red", "--said", "blue")
    assert text.returncode == 0 and "picture(s) of red that it said were blue" in text.stdout
    from nocode_widgets.accounts import auth

    auth.sign_up(ws, "mallory", "password-mallory")
    assert cell("--user", "mallory", "--true", "red", "--said", "red").returncode == 1  # not theirs
