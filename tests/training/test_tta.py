"""Test-time augmentation (issue: studies and ensembles, item 4): the picture and its mirror image,
probabilities averaged; off by default, in the Python API, `nocode predict --tta` and the Test panel."""

import io
import json
import subprocess

import numpy as np
from PIL import Image, ImageOps

from nocode_widgets.predict import open_predictor
from nocode_widgets.training.runs import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import picture


def test_tta_is_the_mean_of_the_picture_and_its_mirror(trained):
    ws, alice, _, run = trained
    predictor = open_predictor(run_folder(ws, run))
    side = predictor.card["image_size"]
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
    pixels[:, : side // 2] = (220, 30, 30)  # not symmetric: the mirror is a different picture
    raw, mirrored = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(raw, "PNG")
    ImageOps.mirror(Image.fromarray(pixels)).save(mirrored, "PNG")
    plain, flipped = (predictor.predict([("p.png", b.getvalue())])[0] for b in (raw, mirrored))
    both = predictor.predict([("p.png", raw.getvalue())], tta=True)[0]
    for c in predictor.classes:
        assert abs(both.probabilities[c] - (plain.probabilities[c] + flipped.probabilities[c]) / 2) < 1e-5
    assert plain.probabilities != flipped.probabilities


def test_nocode_predict_tta(trained, tmp_path):
    ws, alice, _, run = trained
    path = tmp_path / "new.jpg"
    path.write_bytes(picture(seed=4))
    out = subprocess.run([*NOCODE, "predict", "--user", "alice", "--run", run.id, "--tta", "--json", str(path)],
                         capture_output=True, text=True, env=cli_env(ws.settings.data_dir))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["tta"] is True and abs(sum(row["probabilities"].values()) - 1) < 1e-4
