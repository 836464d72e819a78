"""Stopping stops everything: SIGTERM (a service manager's stop, `docker stop`) or SIGINT to `nocode serve`
ends Voila and every page kernel within 10 s, and nothing serves the port after."""

import signal
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import NOCODE, REPO, cli_env, free_port, seed_device_record
from nocode_widgets.accounts import auth
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import WebClient, _wait_http, sign_in_at_door
from tests.processes import processes


def tree(root: int) -> set[int]:
    """`root` and every process below it."""
    parents = {pid: int(stat[1]) for pid, stat, _ in processes()}
    found, grew = {root}, True
    while grew:
        below = {pid for pid, ppid in parents.items() if ppid in found} - found
        found |= below
        grew = bool(below)
    return found & (set(parents) | {root})


def alive(pids: set[int]) -> set[int]:
    return pids & {pid for pid, _, _ in processes()}


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_nocode_serve_ends_voila_and_every_kernel_within_10_s(tmp_path, sig, page):
    port, data_dir = free_port(), tmp_path / "data"
    seed_device_record(data_dir)
    serve = subprocess.Popen([*NOCODE, "serve", "--port", str(port)], cwd=REPO, env=cli_env(data_dir),
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    started = set()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/api", timeout=120)
        auth.sign_up(Workspace.open(data_dir), "sam", "a-good-password")
        client = WebClient(url)
        assert client.sign_in("sam")[0] == 302
        assert client.request("GET", "/")[0] == 200  # a page: Voila starts its kernel
        sign_in_at_door(page, url, "sam")  # and one open in a browser
        started = tree(serve.pid)
        kinds = b" ".join(cmd for pid, _, cmd in processes() if pid in started)
        assert b"nocode_widgets.serve" in kinds and b"ipykernel" in kinds  # Voila and a page's kernel
        serve.send_signal(sig)
        stopped_at = time.monotonic()
        while alive(started) and time.monotonic() - stopped_at < 10:
            time.sleep(0.2)
        assert not alive(started), f"still running 10 s after {sig.name}: {sorted(alive(started))}"
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/api", timeout=5)
        page.get_by_text("The server went away").wait_for(timeout=30_000)  # the open page says so
    finally:
        for pid in alive(started | {serve.pid}):
            with __import__("contextlib").suppress(OSError):
                __import__("os").kill(pid, signal.SIGKILL)
