"""Sign-in that behaves like a web app, in Voila + Chromium: Enter submits, a reload keeps you signed in
on this device, Log out / a password change / expiry end it (issue: sign-in like a web app)."""

import json
import subprocess
import time

import pytest

from nocode_widgets.store import Table
from nocode_widgets.workspace import Workspace
from tests.conftest import NOCODE, cli_env

pytestmark = pytest.mark.e2e
KEY = "nocode-device-token"


def add_user(server, name: str, password: str) -> None:
    out = subprocess.run([*NOCODE, "--data-dir", str(server["data_dir"]), "user", "add", name],
                         env=cli_env(server["data_dir"], NOCODE_PASSWORD=password), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def log_in_with_enter(page, server, name: str, password: str) -> str:
    page.goto(server["url"] + "/")
    page.locator(".nocode-login").wait_for(state="visible")
    page.get_by_placeholder("3 to 32 letters or digits").fill(name)
    page.get_by_placeholder("at least 8 characters").fill(password)
    page.get_by_placeholder("at least 8 characters").press("Enter")  # no click on "Log in"
    page.get_by_role("button", name="Log out").wait_for()
    token = page.evaluate(f"() => localStorage.getItem('{KEY}')")
    assert token
    return token


def shows_login_form(page) -> bool:
    page.locator(".nocode-login").wait_for(state="visible")
    return page.get_by_role("button", name="Log out").count() == 0


def page_with_token(browser, server, token: str):
    context = browser.new_context()
    context.add_init_script(f"localStorage.setItem('{KEY}', {json.dumps(token)})")  # copied from another browser
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server["url"] + "/")
    return page


def test_enter_logs_in_and_a_reload_keeps_you_signed_in_until_log_out(server, page, browser):
    add_user(server, "carol", "password-carol")
    token = log_in_with_enter(page, server, "carol", "password-carol")
    assert token not in server["db"].read_text()  # only its hash is stored
    page.reload()
    page.get_by_role("button", name="Log out").wait_for()
    time.sleep(1)
    assert page.locator(".nocode-login").count() == 0  # straight into the app, no login form
    page.get_by_role("button", name="Log out").click()
    assert shows_login_form(page)
    page.reload()
    assert shows_login_form(page)
    assert shows_login_form(page_with_token(browser, server, token))  # the old token signs nobody in


def test_a_token_copied_elsewhere_stops_working_after_a_password_change(server, page, browser):
    add_user(server, "dave", "password-dave")
    token = log_in_with_enter(page, server, "dave", "password-dave")
    elsewhere = page_with_token(browser, server, token)
    elsewhere.get_by_role("button", name="Log out").wait_for()  # it works while nothing changed
    out = subprocess.run([*NOCODE, "user", "passwd", "dave", "--data-dir", str(server["data_dir"])],
                         env=cli_env(server["data_dir"], NOCODE_PASSWORD="a-brand-new-password"), capture_output=True)
    assert out.returncode == 0
    assert shows_login_form(page_with_token(browser, server, token))


def test_an_expired_token_does_not_sign_in(server, page, browser):
    add_user(server, "erin", "password-erin")
    token = log_in_with_enter(page, server, "erin", "password-erin")
    ws = Workspace.open(server["data_dir"])
    with ws.store.transaction() as tx:
        for device in tx.find(Table.DEVICES):
            tx.update(Table.DEVICES, device["id"], {"expires": time.time() - 1})
    assert shows_login_form(page_with_token(browser, server, token))
