"""Eject to code (issue: export): the notebook reproduces the run in plain PyTorch, without the app."""

import json

import nbformat
import pytest
from nbclient import NotebookClient

from nocode_widgets.eject import notebook_for, write_notebook
from nocode_widgets.errors import NocodeError
from tests.training.helpers import colour_dataset, train


@pytest.mark.slow
def test_the_notebook_reproduces_the_runs_validation_accuracy_without_nocode_widgets(ws, alice, tmp_path):
    ds = colour_dataset(ws, alice, per_class=14)
    run = train(ws, alice, ds, epochs=6, patience=6, augment="light")
    path = write_notebook(ws, alice, run.id, tmp_path)
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "nocode_widgets" not in code and "import torch" in code
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = json.loads(nb.cells[-1].outputs[-1]["text"].strip().splitlines()[-1])
    assert abs(last["notebook_val_accuracy"] - run.metrics["val_accuracy"]) <= 0.02


def test_a_run_that_never_trained_cannot_be_ejected(ws, alice):
    from nocode_widgets.training.runs import create_run

    ds = colour_dataset(ws, alice)
    run = create_run(ws, alice, ds, {})
    with pytest.raises(NocodeError, match="nothing to turn into code"):
        notebook_for(ws, alice, run.id)
