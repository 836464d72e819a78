"""A real Voila server (the repo's voila.json) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import http.client
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import NOCODE, REPO, cli_env, free_port, seed_device_record

ARTIFACTS = REPO / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run ./scripts/test (as root it installs Debian's chromium), "
                "or install it with your package manager.")


@pytest.fixture(scope="module")
def server():
    """Voila on a free port, its data under the checkout's data/ (where Voila's file handler would
    find it if voila.json let it), removed afterwards."""
    data_dir = REPO / "data" / f"e2e-{uuid.uuid4().hex[:8]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with open(ARTIFACTS / "voila.log", "w") as log, voila_server(data_dir, log) as url:
            yield {"url": url, "data_dir": data_dir, "db": data_dir / "nocode.json"}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def voila_server(data_dir, log=subprocess.DEVNULL, **env):
    """`nocode serve` on a free port (NOCODE_* extras in `env`); yields its URL, stops it after."""
    port = free_port()
    seed_device_record(data_dir)
    with jupyter_server([*NOCODE, "serve", "--port", str(port)], port, cli_env(data_dir, **env), log) as url:
        yield url


@contextlib.contextmanager
def jupyter_server(command: list, port: int, env=None, log=subprocess.DEVNULL):
    """Run a Jupyter-based server (Voila, JupyterLab) until the block ends; yields its base URL once it answers."""
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/api", timeout=120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=10)
            return
        except urllib.error.HTTPError:
            return  # the server answers
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module")
def browser(request):
    """Chromium for a test module; a module's CHROMIUM_EXTRA_ARGS (e.g. the fake camera) are added."""
    from playwright.sync_api import sync_playwright

    args = CHROMIUM_ARGS + list(getattr(request.module, "CHROMIUM_EXTRA_ARGS", []))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=args, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_up_at_door(page, url: str, name: str, password: str = "a-good-password") -> None:
    """Create an account on the web server's sign-up page, as a person would; waits for the app."""
    page.goto(url + "/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("button", name="Log out").wait_for()


def sign_in_at_door(page, url: str, name: str, password: str = "a-good-password", keep: bool = False) -> None:
    """Sign in on the web server's sign-in page (Enter submits the form); waits for the app."""
    page.goto(url + "/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Keep me signed in on this browser").set_checked(keep)
    page.get_by_label("Password", exact=True).press("Enter")
    page.get_by_role("button", name="Log out").wait_for()


class WebClient:
    """A browser without JavaScript: cookies, the XSRF field, and a source address of its choice."""

    def __init__(self, url: str, source: str = "127.0.0.1"):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.source, self.cookies = parts.hostname, parts.port, source, {}

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120, source_address=(self.source, 0))
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        head = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        if body is not None:
            head["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=head)
        reply = conn.getresponse()
        text = reply.read().decode(errors="replace")
        for name, value in reply.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return reply.status, dict((k.lower(), v) for k, v in reply.getheaders()), text

    def post_form(self, path: str, fields: dict):
        status, _, page = self.request("GET", path)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
        return self.request("POST", path, {"_xsrf": xsrf, **fields})

    def sign_in(self, name: str, password: str = "a-good-password"):
        return self.post_form("/login", {"username": name, "password": password})
