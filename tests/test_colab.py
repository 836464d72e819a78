"""notebooks/colab.ipynb as Colab runs it: the project's wheel installed by the notebook's own cells into a
fresh virtual environment set up like Colab (torch and the scientific stack preinstalled, ipywidgets 7.7.1,
no nocode_widgets), then the app driven through sign-up, a zip import and a short training. The install
must not replace the preinstalled torch or ipywidgets. No network: pip runs with --no-index."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow

# Colab has these in its own versions (or not at all, for the development install of this project).
NOT_ON_COLAB = re.compile(r"^(ipywidgets|widgetsnbextension|jupyterlab_widgets|nocode_widgets|__editable__)", re.I)


def colab_like(root: Path) -> Path:
    """A fresh venv whose preinstalled packages are this environment's (torch included) minus ipywidgets 8 and
    this project, plus ipywidgets 7.7.1; returns its python."""
    venv.EnvBuilder(with_pip=False).create(root / "venv")  # pip comes preinstalled, as on Colab (ensurepip: 7 s)
    python = root / "venv" / "bin" / "python"
    preinstalled = root / "preinstalled"
    preinstalled.mkdir()
    here = Path(sysconfig.get_paths()["purelib"])
    for entry in here.iterdir():
        if not NOT_ON_COLAB.match(entry.name) and not entry.name.endswith(".pth"):
            (preinstalled / entry.name).symlink_to(entry)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "colab_preinstalled.pth").write_text(f"{REPO / '.ipywidgets7'}\n{preinstalled}\n")
    kernels = root / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return python


def build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(REPO)], check=True, capture_output=True)
    return next(out.glob("nocode_widgets-*.whl"))


DRIVE_THE_APP = """
import sys, time
sys.path.append({repo!r})  # the tests' helpers, after the installed package
import ipywidgets, nocode_widgets, torch
from tests.images import class_files, make_zip
from tests.ui.driving import sign_in, upload, texts
print('versions', ipywidgets.__version__, torch.__version__, nocode_widgets.__file__)
sign_in(app, 'colab-user', 'password-colab', new=True)
data = app.panels['Datasets']
upload(data.zip_upload, {{'colours.zip': make_zip(class_files(('red', 'blue'), per_class=10, size=(40, 30)))}})
data.work.wait()
print('imported:', data.message.text)
train = app.panels['Train']
train.refresh()
train.auto.value = False
train.epochs.value, train.image_size.value = 2, 32
train.start_button.click()
train.wait()
print('trained:', train.status.value)
"""


def test_the_colab_notebook_installs_the_wheel_keeps_colabs_torch_and_trains(tmp_path):
    if not (REPO / ".ipywidgets7" / "ipywidgets").exists():
        pytest.fail("ipywidgets 7.7.1 is not installed in .ipywidgets7/: run ./scripts/test once, which installs it")
    wheel = build_wheel(tmp_path / "dist")
    python = colab_like(tmp_path)
    torch_before = subprocess.run([python, "-c", "import torch; print(torch.__file__, torch.__version__)"],
                                  capture_output=True, text=True, check=True).stdout
    nb = nbformat.read(REPO / "notebooks" / "colab.ipynb", as_version=4)
    install = next(c for c in nb.cells if "SOURCE = " in c.source)
    install.source = re.sub(r"^SOURCE = .*$", f"SOURCE = {str(wheel)!r}", install.source, flags=re.M)
    nb.cells.append(new_code_cell(DRIVE_THE_APP.format(repo=str(REPO))))
    env = cli_env(tmp_path / "data", JUPYTER_PATH=str(tmp_path / "jupyter"), PIP_NO_INDEX="1",
                  PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONPATH="")
    old = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=600, kernel_name="colab", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "nocode_widgets 0.1.0 installed" in text
    versions = re.search(r"versions (\S+) (\S+) (\S+)", text).groups()
    assert versions[0] == "7.7.1"  # Colab's ipywidgets kept
    assert str(tmp_path / "venv") in versions[2]  # the wheel's copy, not this checkout
    torch_after = subprocess.run([python, "-c", "import torch; print(torch.__file__, torch.__version__)"],
                                 capture_output=True, text=True, check=True).stdout
    assert torch_after == torch_before and str(tmp_path / "preinstalled") in torch_after  # not replaced
    assert "20 pictures added" in text
    assert "Finished" in text and "validation accuracy" in text
