"""The download widget in a real JupyterLab (issue: export): a file of 20 MB sent from the kernel in
chunks is saved by Chromium byte for byte."""

import sys
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.conftest import free_port
from tests.e2e.conftest import jupyter_server

pytestmark = pytest.mark.e2e
PAYLOAD = "bytes(range(256)) * 80_000"  # 20.5 MB


@pytest.fixture
def lab(tmp_path):
    port, token = free_port(), "nocode-test-token"
    nb = new_notebook(cells=[
        new_code_cell("from nocode_widgets.ui.download import Download\nsaver = Download()\nsaver"),
        new_code_cell(f"import time\ntime.sleep(5)  # the widget is on the page\nsaver.send_file('payload.bin', {PAYLOAD}, "
                      "'application/octet-stream')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "download.ipynb")
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"]
    with jupyter_server(command, port) as url:
        yield f"{url}/lab/tree/download.ipynb?token={token}"


def test_a_20_mb_file_from_the_kernel_is_saved_by_the_browser_in_jupyterlab(lab, page, tmp_path):
    page.goto(lab)
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus").first.wait_for(
        timeout=120_000)
    time.sleep(2)
    with page.expect_download(timeout=180_000) as download:
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
    saved = tmp_path / "saved.bin"
    download.value.save_as(saved)
    assert saved.read_bytes() == eval(PAYLOAD)
    assert page.locator(".nocode-download").count() == 1  # rendered by anywidget's front end, not an error
