"""The notebooks execute cleanly in a real kernel (nbclient)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, cli_env


def execute(name: str, data_dir, timeout=300, **extra_env) -> nbformat.NotebookNode:
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    env = cli_env(data_dir, **extra_env)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def outputs(nb, kind):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == kind]


def test_app_notebook_is_one_short_cell_and_executes_cleanly(tmp_path):
    nb = execute("app.ipynb", tmp_path / "data")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1 and len(code[0].source.splitlines()) <= 3
    assert outputs(nb, "error") == []
    widget = [o for o in outputs(nb, "execute_result") if "application/vnd.jupyter.widget-view+json" in o.data]
    assert widget, "the cell should display the app widget"
    assert (tmp_path / "data" / "nocode.json").exists()


@pytest.mark.slow
def test_panels_notebook_runs_the_panels_and_the_python_api(tmp_path):
    nb = execute("panels.ipynb", tmp_path / "data", timeout=600, NOCODE_USER="notebook-user",
                 NOCODE_PASSWORD="typed-at-the-prompt")  # what the person would type
    assert outputs(nb, "error") == []
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                   for o in outputs(nb, "execute_result") + outputs(nb, "stream"))
    assert "'done'" in text and "val_accuracy" in text


def test_no_notebook_writes_down_a_password():
    import re

    for path in (REPO / "notebooks").glob("*.ipynb"):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        literal = re.findall(r"""(?i)(password\w*\s*[=,(]\s*['"][^'"]+['"]|change-me)""", code)
        assert literal == [], f"{path.name} has a written-down password: {literal}"
