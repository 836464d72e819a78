"""Page kernels never import torch (issue: export / torch-free kernels): the whole flow — sign-in, a
dataset, Auto's plan, a run, Results, Test — driven headlessly in a fresh Python process, which then
reports the modules it loaded. Training itself runs in its worker process, as in the app, and so do the
heat maps of where a model looked (a confusion-matrix cell with its maps, the Test panel's map)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli_env

FLOW = r'''
import io, json, sys, time
from nocode_widgets.config import Settings
from nocode_widgets.workspace import Workspace
from nocode_widgets.ui import App
from tests.images import class_files, make_zip, picture
from tests.ui.driving import sign_in, texts, upload

ws = Workspace.open()
app = App(ws, poll_interval=0.2)
sign_in(app, "alice", "password-alice", new=True)
datasets = app.panels["Datasets"]
upload(datasets.zip_upload, {"colours.zip": make_zip(class_files(("red", "blue"), per_class=10))})
datasets.work.wait()
train = app.panels["Train"]
train.refresh()
explained = train.explanation.value
train.auto.value = False
train.epochs.value, train.image_size.value = 2, 32
train.start_button.click()
train.wait(300)
results = app.panels["Results"]
results.refresh()
saving = []
for button in (results.download_button, results.notebook_button):  # the bundle, and the run as a notebook
    button.click()
    results.work.wait()
    saving.append(results.message.text)
from tests.ui.driving import find_all
import ipywidgets as w
from nocode_widgets.ui.parts import Picture
cell = [b for b in find_all(results.detail, w.Button) if b.description.isdigit() and not b.disabled][0]
[c for c in find_all(results.detail, w.Checkbox) if c.description == "with where it looked"][0].value = True
cell.click()
results.work.wait()
drilled = sum(isinstance(i, Picture) and i.format == "png" for i in find_all(results.detail, Picture))
test = app.panels["Test"]
test.refresh()
test.looked.value = True
upload(test.upload, {"new.jpg": picture((220, 30, 30), size=(40, 30), seed=5)})
test.work.wait()
print(json.dumps({"explained": explained, "drilled": drilled,
                  "maps": sum(isinstance(i, Picture) and i.format == "png" for i in find_all(test.results, Picture)), "status": texts(train), "results": texts(results),
                  "test": texts(test.results), "saving": saving, "torch": sorted(m for m in ("torch", "torchvision") if m in sys.modules)}))
'''


@pytest.mark.slow
def test_the_page_kernel_runs_the_whole_flow_without_importing_torch(tmp_path):
    env = cli_env(tmp_path / "data", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", FLOW], env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Auto:" in seen["explained"] and "Finished" in seen["status"]
    assert "Exported model (ONNX) agrees on" in seen["results"]
    assert ("it is" in seen["test"] or "not sure" in seen["test"]) and "probability" in seen["test"]
    assert [m.split(" (")[0].split(".")[-1] for m in seen["saving"]] == ["zip", "ipynb"]
    assert seen["drilled"] >= 1 and seen["maps"] == 1  # heat maps came from a worker process
    assert seen["torch"] == []
