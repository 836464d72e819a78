"""Where the model looked (issue 14, items 1 and 5): Grad-CAM on every architecture of the zoo, the cached
worker-process service the page uses, and `nocode explain`."""

import io
import json
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

from nocode_widgets.accounts import auth
from nocode_widgets.models import zoo
from nocode_widgets.errors import NocodeError, NotFound
from nocode_widgets.insight.explain import MAX_PICTURES, explain
from nocode_widgets.insight.gradcam import heatmaps, target_layer
from nocode_widgets.runs.records import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import COLORS, picture


@pytest.mark.parametrize("name", list(zoo.ARCHS))
def test_every_architecture_gives_a_map_of_the_pictures_size_that_is_not_constant(name):
    torch.manual_seed(0)
    size = max(64, zoo.get_arch(name).min_size)
    model = zoo.build_model(name, 3).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        predicted = model(x).argmax(1)  # the class the map explains, as in the Test panel
    maps, probs = heatmaps(model, target_layer(model, size), x, predicted)
    assert maps.shape == (2, size, size) and probs.shape == (2, 3)
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    assert all(m.std() > 1e-4 for m in maps)  # a real map, not a constant


def test_the_map_follows_the_evidence_in_a_model_that_looks_at_one_corner():
    class Corner(torch.nn.Module):  # class 0's score is the red channel of the top-left quarter
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Conv2d(3, 1, 1, bias=False)
            with torch.no_grad():
                self.features.weight.copy_(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1))

        def forward(self, x):
            f = self.features(x)
            return torch.stack([f[:, 0, :8, :8].mean((1, 2)), -f[:, 0].mean((1, 2))], 1)

    model, x = Corner(), torch.zeros(1, 3, 16, 16)
    x[:, 0, :8, :8] = 1.0  # red only in the corner the class looks at
    x[:, 1:, 8:, 8:] = 1.0  # green and blue elsewhere, which it ignores
    maps, _ = heatmaps(model, target_layer(model, 16), x, torch.tensor([0]))
    assert maps[0, :6, :6].mean() > 0.9 and maps[0, 10:, 10:].mean() < 0.1


@pytest.mark.slow
def test_heat_maps_of_a_run_are_made_in_a_worker_cached_and_kept_to_their_owner(trained, monkeypatch):
    ws, alice, ds, run = trained
    red = picture(COLORS["red"], size=(40, 30), seed=11)
    first = explain(ws, alice, run.id, [("red.jpg", red), ("junk.jpg", b"not a picture")], ["green", None])
    assert first[0].target == "green" and first[0].label in ("red", "green", "blue") and not first[0].error
    assert Image.open(io.BytesIO(first[0].png)).size == (224, 224)
    assert first[1].error and not first[1].png
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("the cache was not used"))
    again = explain(ws, alice, run.id, [("red.jpg", red)], ["green"])
    assert again[0].png == first[0].png and again[0].probability == first[0].probability
    assert list((run_folder(ws, run) / "explain").glob("*.png"))  # under the run: counted in alice's disk use
    monkeypatch.undo()
    bob = auth.sign_up(ws, "bob", "password-bob")
    with pytest.raises(NotFound):
        explain(ws, bob, run.id, [("red.jpg", red)])
    with pytest.raises(NocodeError, match=f"at most {MAX_PICTURES}"):
        explain(ws, alice, run.id, [("p.jpg", red)] * (MAX_PICTURES + 1))
    wrong = explain(ws, alice, run.id, [("red.jpg", red)], ["purple"])[0]
    assert "not one of this model's classes" in wrong.error


def test_nocode_explain_writes_overlays_and_prints_label_probability_and_file(trained, tmp_path):
    ws, alice, ds, run = trained
    paths = []
    for name in ("red", "blue"):
        paths.append(tmp_path / f"{name}.jpg")
        paths[-1].write_bytes(picture(COLORS[name], size=(40, 30), seed=21))
    out = subprocess.run([*NOCODE, "explain", "--user", "alice", "--run", run.id, *map(str, paths),
                          "--out", str(tmp_path / "maps"), "--json"], env=cli_env(ws.settings.data_dir),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == list(map(str, paths))
    for r in rows:
        assert r["label"] in ("red", "green", "blue") and 0 < r["probability"] <= 1
        assert Image.open(r["file"]).format == "PNG" and r["file"].endswith("-where-it-looked.png")
    text = subprocess.run([*NOCODE, "explain", "--user", "alice", "--run", run.id, str(paths[0]), "--out",
                           str(tmp_path / "maps")], env=cli_env(ws.settings.data_dir), capture_output=True, text=True,
                          timeout=300)
    assert text.returncode == 0 and "red.jpg: " in text.stdout and "%" in text.stdout and "-> " in text.stdout
