"""notebooks/panels.ipynb opened and run in a real JupyterLab in Chromium: every panel renders as a widget
(not "Loading widget..." nor an error), Results shows a trained run's figures, and the Python API cells
train and predict."""

import contextlib
import json
import re
import shutil
import sys

import pytest

from nocode_widgets.accounts import auth
from tests.conftest import REPO, cli_env, free_port, make_workspace
from tests.e2e.accessibility import axe_violations, open_every_section
from tests.e2e.conftest import jupyter_server, shot
from tests.training_helpers import colour_dataset, train

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NAME, PASSWORD = "notebook-user", "typed-at-the-prompt"


@contextlib.contextmanager
def panels_in_lab(tmp_path, theme: str = ""):
    """JupyterLab (in `theme`, else its default) with panels.ipynb and a trained run; yields the notebook's URL."""
    data = tmp_path / "data"
    ws = make_workspace(data)
    user = auth.sign_up(ws, NAME, PASSWORD)
    assert train(ws, user, colour_dataset(ws, user)).status == "done"  # a run for the Results panel to show
    shutil.copy(REPO / "notebooks" / "panels.ipynb", tmp_path / "panels.ipynb")
    port, token = free_port(), "nocode-test-token"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"]
    env = cli_env(data, NOCODE_USER=NAME, NOCODE_PASSWORD=PASSWORD)  # what the person would type at the prompt
    settings = tmp_path / "lab-settings"
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    if theme:
        (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
        (settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings").write_text(
            json.dumps({"theme": theme}))
    with jupyter_server(command, port, env) as url:
        yield f"{url}/lab/tree/panels.ipynb?token={token}"


@pytest.fixture
def lab(tmp_path):
    with panels_in_lab(tmp_path) as url:
        yield url


def run_all_cells(page, url: str) -> None:
    page.goto(url)
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.wait_for_timeout(2000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    for panel in ("datasets", "train", "results", "test", "class"):
        page.locator(f".nocode-{panel}").first.wait_for(state="visible", timeout=120_000)


def test_the_panels_notebook_renders_every_panel_and_a_trained_runs_results_in_jupyterlab(lab, page):
    run_all_cells(page, lab)
    results = page.locator(".nocode-results").first
    results.get_by_text("Per class and confusion, on the validation pictures").wait_for(timeout=60_000)
    assert results.locator("img").count() >= 3  # learning curves, confusion matrix, reliability diagram, drawn
    results.get_by_role("button", name="Can you trust its confidence?").wait_for()
    results.get_by_title("true red, said red").click()  # a cell of the confusion matrix: its pictures
    results.get_by_text("True red, said red").wait_for(timeout=60_000)
    page.locator(".jp-OutputArea-output", has_text="done after").wait_for(timeout=300_000)  # the API trained
    page.locator(".jp-OutputArea-output", has_text=re.compile(r"^\('red',\s")).wait_for(timeout=60_000)  # and predicted
    shot(page, "jupyterlab-panels")
    outputs = page.locator(".jp-OutputArea").all_inner_texts()
    shown = [(int(a), int(b)) for a, b in re.findall(r"epoch (\d+) of (\d+)", " ".join(outputs))]
    assert all(1 <= a <= b for a, b in shown)  # progress never says "epoch 6 of 5" or "of 0" (a fast run may
    # end between two looks: then it shows only "starting" and "done after")
    assert not [o for o in outputs if "Loading widget" in o or "Error displaying widget" in o or "Traceback" in o]


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_the_panels_pass_axe_in_jupyterlab_light_and_dark(tmp_path, page, theme):
    """axe-core on the panels (not JupyterLab's own chrome), every section open, in both of Lab's themes."""
    with panels_in_lab(tmp_path, theme) as url:
        run_all_cells(page, url)
        page.locator(".nocode-results .nocode-headline").first.wait_for(timeout=60_000)
        assert page.evaluate("() => document.body.dataset.jpThemeLight") == ("true" if "Light" in theme else "false")
        for panel in ("datasets", "train", "results", "test", "class"):
            open_every_section(page, f".nocode-{panel}")
        violations = axe_violations(page, ".nocode-ui")
        shot(page, f"jupyterlab-panels-{theme.split()[-1].lower()}")
        assert violations == [], violations
