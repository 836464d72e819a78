"""The README's promise: two commands, one starts the app, one runs the tests; CI runs the latter."""

import re
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import REPO, cli_env, free_port
from tests.e2e.conftest import WebClient


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)\n(.*?)```", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_exactly_two_commands_app_then_test():
    assert readme_commands() == ["./scripts/app", "./scripts/test"]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "./scripts/test" in ci and "set -euo pipefail" in ci


@pytest.mark.slow
def test_app_command_serves_the_login_page(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(REPO / "scripts" / "app"), "--port", str(port)], cwd=REPO,
                            env=cli_env(tmp_path / "data"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        page = _get_when_up(f"http://127.0.0.1:{port}/", deadline=time.time() + 240)
        assert 'autocomplete="current-password"' in page  # the door's sign-in page, served without a kernel
        client = WebClient(f"http://127.0.0.1:{port}")
        status, _, _ = client.post_form("/signup", {"username": "first", "password": "a-good-password",
                                                    "repeat": "a-good-password"})
        assert status == 302 and (tmp_path / "data" / "nocode.json").exists()  # in the data dir we gave
        status, _, page = client.request("GET", "/")
        assert status == 200 and "application/vnd.jupyter.widget-view+json" in page  # the app cell made widgets
        assert "Traceback" not in page
    finally:
        proc.terminate()
        proc.wait(30)


def _get_when_up(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.read().decode()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
