"""Test-time augmentation (issue: studies and ensembles, item 4): the picture and its mirror image,
probabilities averaged; off by default, in the Python API, `nocode predict --tta` and the Test panel."""

import io
import json
import subprocess

import numpy as np
from PIL import Image, ImageOps

from nocode_widgets.predict.onnx import open_predictor
from nocode_widgets.runs.records import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import picture


def test_tta_is_the_mean_of_the_picture_and_its_mirror(trained):
    from nocode_widgets.pictures.portable import with_temperature

    ws, alice, _, run = trained
    predictor = open_predictor(run_folder(ws, run))
    side = predictor.card["image_size"]
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
    pixels[:, : side // 2] = (220, 30, 30)  # not symmetric: the mirror is a different picture
    raw = io.BytesIO()
    Image.fromarray(pixels).save(raw, "PNG")
    seen = predictor.prepare(raw.getvalue())[None]  # the picture as the model sees it (stored as a JPEG)
    plain, flipped = (with_temperature(predictor.probabilities(np.ascontiguousarray(x)), predictor.temperature)[0]
                      for x in (seen, seen[..., ::-1]))
    both = predictor.predict([("p.png", raw.getvalue())], tta=True)[0]
    for k, c in enumerate(predictor.classes):
        assert abs(both.probabilities[c] - (plain[k] + flipped[k]) / 2) < 1e-5
    assert not np.allclose(plain, flipped, atol=1e-6)
    mirrored_file = io.BytesIO()
    ImageOps.mirror(Image.fromarray(pixels)).save(mirrored_file, "PNG")
    alone = predictor.predict([("m.png", mirrored_file.getvalue())])[0]  # the mirrored file: nearly the same
    assert all(abs(alone.probabilities[c] - flipped[k]) < 0.05 for k, c in enumerate(predictor.classes))


def test_nocode_predict_tta(trained, tmp_path):
    ws, alice, _, run = trained
    path = tmp_path / "new.jpg"
    path.write_bytes(picture(seed=4))
    out = subprocess.run([*NOCODE, "predict", "--user", "alice", "--run", run.id, "--tta", "--json", str(path)],
                         capture_output=True, text=True, env=cli_env(ws.settings.data_dir))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["tta"] is True and abs(sum(row["probabilities"].values()) - 1) < 1e-4
