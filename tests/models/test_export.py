"""Take the model out: every run's model.onnx, its parity check, ONNX prediction with the same
preprocessing, the PyTorch fallback (issue: export / torch-free kernels)."""

import io
import json
import subprocess

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

from nocode_widgets import datasets as D
from nocode_widgets.models import zoo
from nocode_widgets.models.artifact import export_and_check
from nocode_widgets.predict.onnx import OnnxPredictor, predictor_for
from nocode_widgets.pictures.preprocess import load_rgb, normalize_array, normalize_batch, to_uint8_array
from nocode_widgets.training.data import build_cache
from nocode_widgets.runs.records import run_folder
from tests.conftest import NOCODE, cli_env
from tests.images import make_zip, picture
from tests.training_helpers import colour_dataset, train

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


def test_a_trained_run_has_one_self_contained_onnx_file_that_agrees_with_pytorch(trained):
    ws, alice, ds, run = trained
    folder = run_folder(ws, run)
    graph = onnx.load(str(folder / "model.onnx"))
    onnx.checker.check_model(graph)
    assert not [p for p in folder.iterdir() if p.suffix == ".data"]  # no external data
    assert graph.opset_import[0].version == 17
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 32, 32]  # NCHW, dynamic batch
    export = run.export
    assert export["ok"] and export["agree"] == export["total"] == 9 and export["max_diff"] <= 1e-4
    assert json.loads((folder / "export.json").read_text())["agree"] == 9


def test_the_results_panel_states_the_parity_figures(trained):
    from nocode_widgets.ui import ResultsPanel

    ws, alice, ds, run = trained
    panel = ResultsPanel(ws, alice)
    panel.refresh(select=run.id)
    from tests.ui.driving import texts

    assert "Exported model (ONNX) agrees on 9/9 validation pictures, largest difference 0.0000" in texts(panel.detail.children[0])


def test_onnx_and_pytorch_predict_the_same_on_new_pictures(trained):
    ws, alice, ds, run = trained
    pictures = [(f"{k}.png", picture((40 * k, 200 - 30 * k, 90), size=(37 + k, 23), seed=k, fmt="PNG")) for k in range(6)]
    fast, slow = predictor_for(ws, alice, run.id), predictor_for(ws, alice, run.id, engine="torch")
    assert (fast.engine, slow.engine) == ("onnx", "torch")
    for a, b in zip(fast.predict(pictures), slow.predict(pictures)):
        assert a.label == b.label
        assert max(abs(a.probabilities[c] - b.probabilities[c]) for c in ds.classes) <= 1e-4
    probs = fast.probabilities(np.stack([fast.prepare(p) for _, p in pictures[:1] * 5]))
    assert probs.shape == (5, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)  # softmax inside, any batch


def odd_pictures() -> dict:
    rgba = Image.new("RGBA", (50, 20), (255, 0, 0, 0))
    rgba.paste((0, 255, 0, 255), (10, 5, 30, 15))
    out = {}
    for name, image, fmt in (("wide.jpg", Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 90, 3), dtype=np.uint8)), "JPEG"),
                             ("tall.png", Image.fromarray(np.random.default_rng(2).integers(0, 255, (120, 17, 3), dtype=np.uint8)), "PNG"),
                             ("grey.png", Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 40), dtype=np.uint8), "L"), "PNG"),
                             ("alpha.png", rgba, "PNG"), ("tiny.gif", Image.new("P", (5, 7), 3), "GIF")):
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        out[name] = buffer.getvalue()
    return out


def test_training_pytorch_and_onnx_prediction_prepare_the_same_input_array(ws, alice):
    files = odd_pictures()
    report = D.import_archive(ws, alice, io.BytesIO(make_zip({f"{'a' if k % 2 else 'b'}/{n}": b for k, (n, b) in
                                                              enumerate(files.items())})), name="odd")
    ds = D.get_dataset(ws, alice, report.dataset_id)
    folder = D.dataset_folder(ws, ds)
    entries = {e.original.split("/")[-1]: e for e in D.read_manifest(folder)}
    size = 24
    cache = build_cache([folder / entries[n].file for n in files], [entries[n].hash for n in files], size,
                        folder / "cache").numpy()
    card = {"classes": ["a", "b"], "image_size": size, "mean": zoo.IMAGENET_MEAN, "std": zoo.IMAGENET_STD}
    (ws.settings.data_dir / "m").mkdir()
    (ws.settings.data_dir / "m" / "model.json").write_text(json.dumps(card))
    from nocode_widgets.predict.onnx import Predictor

    predictor = Predictor(ws.settings.data_dir / "m")
    for k, (name, raw) in enumerate(files.items()):
        assert np.array_equal(predictor.prepare(raw), cache[k]), name  # what predictions see = what training saw
    batch = cache.copy()
    torch_side = normalize_batch(torch.from_numpy(batch), zoo.IMAGENET_MEAN, zoo.IMAGENET_STD).numpy()
    assert np.array_equal(normalize_array(batch, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD), torch_side)


class Untraceable(nn.Module):
    """A model PyTorch runs but the exporter cannot follow (it leaves the graph for numpy)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 3))

    def forward(self, x):
        return self.net(torch.from_numpy(x.numpy() * 1.0))


class BranchesOnData(nn.Module):
    """Exports (tracing records one branch) but then answers differently from PyTorch."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 3))

    def forward(self, x):
        out = self.net(x)
        return out if float(x.mean()) > 0 else -out


def test_a_failed_export_says_so_and_the_run_keeps_predicting_with_pytorch(ws, alice):
    ds = colour_dataset(ws, alice)
    run = train(ws, alice, ds)
    folder = run_folder(ws, run)
    pictures = torch.from_numpy(np.stack([load_pixels(picture(seed=k)) for k in range(4)]))
    report = export_and_check(Untraceable(), folder, 32, pictures, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)
    assert not report["ok"] and report["error"].startswith("The model could not be exported")
    assert not (folder / "model.onnx").exists()
    predictor = predictor_for(ws, alice, run.id)
    assert predictor.engine == "torch" and predictor.predict([("x.jpg", picture())])[0].label in ds.classes


def test_a_parity_failure_is_caught_and_reported(tmp_path):
    pictures = torch.from_numpy(np.stack([load_pixels(picture(seed=k)) for k in range(4)]))
    mixed = torch.cat([pictures, torch.full_like(pictures, 255)])  # white pictures take the branch not traced
    report = export_and_check(BranchesOnData(), tmp_path, 32, mixed, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)
    assert not report["ok"] and report["agree"] < report["total"] == 8
    assert "does not give the same answers" in report["error"]


def load_pixels(raw: bytes) -> np.ndarray:
    return to_uint8_array(load_rgb(raw), 32)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(zoo.ARCHS))
@pytest.mark.slow
def test_every_architecture_exports_and_passes_parity(name, tmp_path):
    size = zoo.ARCHS[name].min_size
    torch.manual_seed(0)
    model = zoo.build_model(name, 3).eval()
    pictures = torch.randint(0, 255, (4, 3, size, size), dtype=torch.uint8)
    report = export_and_check(model, tmp_path, size, pictures, zoo.IMAGENET_MEAN, zoo.IMAGENET_STD)
    assert report["ok"], report
    assert OnnxPredictor.__name__  # the file loads in the app's predictor too:
    (tmp_path / "model.json").write_text(json.dumps({"classes": ["a", "b", "c"], "image_size": size,
                                                     "mean": zoo.IMAGENET_MEAN, "std": zoo.IMAGENET_STD}))
    assert OnnxPredictor(tmp_path).probabilities(pictures.numpy()).shape == (4, 3)


def test_nocode_predict_uses_onnx_and_torch_on_request_with_the_same_answers(trained, tmp_path):
    ws, alice, ds, run = trained
    image = tmp_path / "x.jpg"
    image.write_bytes(picture(seed=42))
    env = cli_env(ws.settings.data_dir)
    answers = {}
    for engine in ("auto", "torch"):
        out = subprocess.run([*NOCODE, "predict", "--user", "alice", "--run", run.id, "--engine", engine, str(image),
                              "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        answers[engine] = json.loads(out.stdout)[0]
    assert (answers["auto"]["engine"], answers["torch"]["engine"]) == ("onnx", "torch")
    assert answers["auto"]["label"] == answers["torch"]["label"]
