"""Eject to code (issue: export): the notebook reproduces the run in plain PyTorch, without the app."""

import json

import nbformat
import pytest
from nbclient import NotebookClient

from nocode_widgets.export.eject import notebook_for, write_notebook
from nocode_widgets.errors import NocodeError
from tests.training_helpers import colour_dataset, train


@pytest.mark.slow
def test_the_notebook_reproduces_the_runs_validation_accuracy_without_nocode_widgets(ws, alice, tmp_path):
    ds = colour_dataset(ws, alice, per_class=14, size=(72, 64))
    run = train(ws, alice, ds, epochs=6, patience=6, augment="light", image_size=64, progressive=True)
    assert run.resolved["progressive"]  # the first half of the steps at 32 px, in the notebook too
    path = write_notebook(ws, alice, run.id, tmp_path)
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "nocode_widgets" not in code and "import torch" in code and "x = resized(x, shrink[0])" in code
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = json.loads(nb.cells[-1].outputs[-1]["text"].strip().splitlines()[-1])
    assert abs(last["notebook_val_accuracy"] - run.metrics["val_accuracy"]) <= 0.02


def test_a_run_that_never_trained_cannot_be_ejected(ws, alice):
    from nocode_widgets.runs.records import create_run

    ds = colour_dataset(ws, alice)
    run = create_run(ws, alice, ds, {})
    with pytest.raises(NocodeError, match="nothing to turn into code"):
        notebook_for(ws, alice, run.id)


def test_a_run_saved_before_a_setting_existed_gets_its_default_in_the_notebook(ws, alice):
    from nocode_widgets.runs.records import load_run, update_run

    ds = colour_dataset(ws, alice)
    run = train(ws, alice, ds)
    older = {k: v for k, v in run.resolved.items() if k not in ("precise_bn", "stop_when_learned")}
    update_run(ws, run.id, resolved=older)  # as stored by a version that had neither field
    assert "precise_bn" not in load_run(ws, run.id).resolved
    nb = notebook_for(ws, alice, run.id)
    settings = next(c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("SETTINGS = "))
    scope: dict = {}
    exec(settings.replace("cfg = SimpleNamespace", "from types import SimpleNamespace\ncfg = SimpleNamespace"), scope)
    cfg = scope["cfg"]
    assert cfg.precise_bn is None and cfg.stop_when_learned is None  # off, as that run trained
    assert cfg.epochs == run.resolved["epochs"] and cfg.lr == run.resolved["lr"]
