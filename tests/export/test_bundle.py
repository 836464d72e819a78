"""The model bundle (issue: export): what `nocode export` and the Download button write, and its
predict.py giving the app's answers with nothing but onnxruntime, numpy and Pillow."""

import io
import json
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

from nocode_widgets import datasets as D
from nocode_widgets.export.bundle import FILES, make_bundle
from nocode_widgets.errors import NocodeError
from nocode_widgets.predict.onnx import predictor_for
from nocode_widgets.runs.records import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import picture
from tests.models.test_export import odd_pictures


def run_predict_py(folder, paths) -> tuple[list, list]:
    """The bundle's predict.py as someone else would run it; also which of our packages it loaded."""
    code = ("import runpy, sys, json\n"
            f"sys.argv = ['predict.py', '--json', *{[str(p) for p in paths]!r}]\n"
            "try:\n    runpy.run_path('predict.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(m for m in ('nocode_widgets', 'torch', 'torchvision') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    *rows, loaded = out.stdout.strip().rsplit("\n", 1)
    return json.loads(rows[0]), json.loads(loaded)


def test_nocode_export_writes_the_bundle_and_its_zip(trained, tmp_path):
    ws, alice, ds, run = trained
    out = subprocess.run([*NOCODE, "export", "--user", "alice", "--run", run.id, "--out", str(tmp_path / "b"), "--json"],
                         env=cli_env(ws.settings.data_dir), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["files"] == list(FILES) and all((tmp_path / "b" / f).exists() for f in FILES)
    with zipfile.ZipFile(shown["zip"]) as z:
        assert z.namelist() == list(FILES)
        assert z.read("model.onnx") == (run_folder(ws, run) / "model.onnx").read_bytes()
    card = (tmp_path / "b" / "model_card.md").read_text()
    assert "agrees with the trained model on 9/9 validation pictures" in card
    assert "| true \\ said |" in card and "Accuracy" in card and "## Limits" in card


def test_the_bundles_predict_py_gives_the_apps_answers_without_the_app(trained, tmp_path):
    ws, alice, ds, run = trained
    bundle = make_bundle(ws, alice, run.id)
    with zipfile.ZipFile(io.BytesIO(bundle.zip_bytes())) as z:  # unzipped on "another machine"
        z.extractall(tmp_path / "elsewhere")
    split = json.loads((run_folder(ws, run) / "split.json").read_text())
    folder = D.dataset_folder(ws, ds)
    by_hash = {e.hash: folder / e.file for e in D.read_manifest(folder)}
    paths = [by_hash[h] for h in split["val"]]
    big = Image.new("RGB", (1400, 900), (200, 40, 40))
    for name, raw in {**odd_pictures(), "big.jpg": _jpeg(big), "new.jpg": picture(seed=77)}.items():
        (tmp_path / name).write_bytes(raw)
        paths.append(tmp_path / name)
    rows, loaded = run_predict_py(tmp_path / "elsewhere", paths)
    assert loaded == []  # neither nocode_widgets nor torch: only onnxruntime, numpy and Pillow
    app = predictor_for(ws, alice, run.id).predict([(str(p), p.read_bytes()) for p in paths])
    assert [r["label"] for r in rows] == [a.label for a in app]
    for row, answer in zip(rows, app):
        assert max(abs(row["probabilities"][c] - answer.probabilities[c]) for c in ds.classes) < 1e-5


def test_the_zip_is_the_same_bytes_every_time(trained):
    ws, alice, ds, run = trained
    assert make_bundle(ws, alice, run.id).zip_bytes() == make_bundle(ws, alice, run.id).zip_bytes()


def test_only_the_owner_or_an_admin_can_take_a_model_away(trained):
    from nocode_widgets.accounts import auth

    ws, alice, ds, run = trained
    bob = auth.sign_up(ws, "bob-export", "password-bob")
    with pytest.raises(NocodeError, match="does not exist"):
        make_bundle(ws, bob, run.id)


def test_a_run_without_a_checked_export_cannot_be_downloaded(ws, alice):
    from tests.training_helpers import colour_dataset, train

    run = train(ws, alice, colour_dataset(ws, alice))
    (run_folder(ws, run) / "model.onnx").unlink()
    with pytest.raises(NocodeError, match="no checked export"):
        make_bundle(ws, alice, run.id)


def _jpeg(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()
