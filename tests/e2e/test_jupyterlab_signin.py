"""The app inside a real JupyterLab, where no web server of ours stands in front: the in-notebook login
panel, Enter logs in, and after the kernel restarts the page asks again (nothing secret is kept in the
browser's storage; issue: sign in at the door)."""

import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nocode_widgets.accounts import auth
from tests.conftest import free_port, make_workspace
from tests.e2e.conftest import jupyter_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def lab(tmp_path):
    data = tmp_path / "data"
    auth.sign_up(make_workspace(data), "frank", "password-frank")
    nb = new_notebook(cells=[new_code_cell(
        "from pathlib import Path\nfrom nocode_widgets.config import Settings\nfrom nocode_widgets.ui import App\n"
        "from nocode_widgets.workspace import Workspace\n"
        f"App(Workspace.open(settings=Settings(data_dir=Path({str(data)!r}), argon2_time_cost=1, argon2_memory_kib=1024)))")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "app.ipynb")
    port, token = free_port(), "nocode-test-token"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"]
    with jupyter_server(command, port) as url:
        yield f"{url}/lab/tree/app.ipynb?token={token}"


def menu(page, top: str, item: str) -> None:
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_text(item, exact=True).click()


def test_log_in_with_enter_and_a_new_kernel_asks_again(lab, page):
    page.goto(lab)
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.wait_for_timeout(2000)
    menu(page, "Run", "Run All Cells")
    page.locator(".nocode-login").wait_for(state="visible", timeout=120_000)
    page.get_by_placeholder("3 to 32 letters or digits").fill("frank")
    page.get_by_placeholder("at least 8 characters").fill("password-frank")
    page.get_by_placeholder("at least 8 characters").press("Enter")
    page.get_by_role("button", name="Log out").wait_for(timeout=120_000)
    menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart"
    page.get_by_role("button", name="Log out").wait_for(state="detached", timeout=120_000)  # the old page's view
    page.locator(".nocode-login").first.wait_for(state="visible", timeout=120_000)  # the login panel again
    assert page.evaluate("() => Object.keys(localStorage).filter(k => k.startsWith('nocode'))") == []
