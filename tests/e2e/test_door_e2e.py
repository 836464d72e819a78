"""Sign in at the door (issue): the web server signs people in on its own pages before any kernel starts,
keeps the session in an HttpOnly cookie, hands each page's kernel a one-time ticket, ends every page of a
sign-in with it, caps pages per person, and throttles guesses per client address. A real Voila server
(`nocode serve`), real Chromium, and plain HTTP clients bound to chosen loopback addresses."""

import re
import subprocess
import time

import pytest

from nocode_widgets.accounts import auth, signins
from nocode_widgets.workspace import Workspace
from tests.conftest import NOCODE, cli_env
from tests.processes import kernels_of
from tests.e2e.conftest import WebClient, sign_in_at_door, voila_server

pytestmark = pytest.mark.e2e
PASSWORD = "a-good-password"


def add_user(server, name: str, password: str = PASSWORD):
    return auth.sign_up(Workspace.open(server["data_dir"]), name, password)


def test_anonymous_visitors_start_no_kernel_and_get_the_sign_in_page(server):
    before = len(kernels_of(server["data_dir"]))
    client = WebClient(server["url"])
    for _ in range(200):
        status, headers, _ = client.request("GET", "/")
        assert status == 302 and headers["location"].startswith("/login")
    status, _, page = client.request("GET", "/login")
    assert status == 200 and 'autocomplete="current-password"' in page and 'autocomplete="username"' in page
    assert "nocode_session" not in client.cookies
    time.sleep(2)
    assert len(kernels_of(server["data_dir"])) == before == 0
    status, _, page = client.request("GET", "/signup")
    assert page.count('autocomplete="new-password"') == 2


def test_a_form_without_the_xsrf_field_or_from_another_site_is_refused(server):
    add_user(server, "xena")
    client = WebClient(server["url"])
    client.request("GET", "/login")  # gets the _xsrf cookie
    status, _, _ = client.request("POST", "/login", {"username": "xena", "password": PASSWORD})
    assert status == 403 and "nocode_session" not in client.cookies
    status, _, page = client.request("GET", "/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    status, _, _ = client.request("POST", "/login", {"_xsrf": xsrf, "username": "xena", "password": PASSWORD},
                                  headers={"Origin": "http://evil.example"})
    assert status in (403, 404) and "nocode_session" not in client.cookies


def test_sign_in_gives_an_httponly_cookie_and_reloads_and_second_tabs_are_signed_in(server, page, browser):
    add_user(server, "carol")
    sign_in_at_door(page, server["url"], "carol")
    cookie = next(c for c in page.context.cookies() if c["name"] == "nocode_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] == -1  # a session cookie
    assert cookie["value"] not in server["db"].read_text()  # only its hash is stored
    assert page.evaluate("() => document.cookie").find("nocode_session") == -1  # no script can read it
    assert page.evaluate("() => JSON.stringify(localStorage)") == "{}"
    page.reload()
    page.get_by_role("button", name="Log out").wait_for()
    second = page.context.new_page()
    second.goto(server["url"] + "/")
    second.get_by_role("button", name="Log out").wait_for()
    assert "App(ticket=" not in second.content()  # the ticket never reaches the browser


def test_keep_me_signed_in_makes_a_lasting_cookie(server, page):
    add_user(server, "kim")
    sign_in_at_door(page, server["url"], "kim", keep=True)
    cookie = next(c for c in page.context.cookies() if c["name"] == "nocode_session")
    days = (cookie["expires"] - time.time()) / 86400
    assert 13 < days <= 14.01  # NOCODE_REMEMBER_DAYS


def test_log_out_in_one_tab_ends_the_page_in_another_within_seconds(server, page):
    add_user(server, "dora")
    sign_in_at_door(page, server["url"], "dora")
    other = page.context.new_page()
    other.goto(server["url"] + "/")
    other.get_by_role("button", name="Log out").wait_for()
    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You have logged out").wait_for()
    start = time.time()
    other.get_by_text("You were signed out").wait_for(timeout=10_000)
    assert time.time() - start < 10 and other.get_by_role("button", name="Log out").count() == 0
    other.reload()
    other.get_by_text("Welcome").wait_for()  # the cookie no longer signs anyone in


def test_sign_out_all_devices_ends_a_live_page_elsewhere(server, page):
    add_user(server, "eve")
    sign_in_at_door(page, server["url"], "eve")
    out = subprocess.run([*NOCODE, "--data-dir", str(server["data_dir"]), "user", "forget-devices", "eve"],
                         env=cli_env(server["data_dir"]), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    page.get_by_text("You were signed out").wait_for(timeout=10_000)
    assert page.get_by_role("tab", name="Datasets").count() == 0


def test_a_kernel_websocket_needs_the_cookie_of_the_person_whose_page_it_is(server, page):
    add_user(server, "fay")
    sign_in_at_door(page, server["url"], "fay")
    kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)
    path = f"/api/kernels/{kernel}/channels"
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": server["url"]}
    stranger = WebClient(server["url"])
    assert stranger.request("GET", path, headers=upgrade)[0] == 403
    add_user(server, "gus")
    other = WebClient(server["url"])
    assert other.sign_in("gus")[0] == 302
    assert other.request("GET", path, headers=upgrade)[0] == 403  # signed in, but not fay's page
    owner = WebClient(server["url"])
    owner.cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert owner.request("GET", path, headers=upgrade)[0] == 101  # fay's own browser may


def test_guesses_from_one_address_do_not_lock_the_owner_out_from_another(server):
    add_user(server, "hal")
    attacker = WebClient(server["url"], source="127.0.0.2")
    replies = [attacker.sign_in("hal", "not-the-password") for _ in range(8)]
    assert [r[0] for r in replies[:5]] == [403] * 5 and replies[-1][0] == 429
    assert "Too many failed sign-ins" in replies[-1][2]
    assert attacker.sign_in("hal")[0] == 429  # even the right password: no argon2 work, no answer
    owner = WebClient(server["url"], source="127.0.0.1")
    assert owner.sign_in("hal")[0] == 302 and "nocode_session" in owner.cookies
    unknown = WebClient(server["url"], source="127.0.0.3")
    assert unknown.sign_in("nobody-here", "not-the-password")[2].count("Wrong username or password.") == 1
    assert WebClient(server["url"], source="127.0.0.4").sign_in("hal", "nope-nope")[2].count(
        "Wrong username or password.") == 1  # one message whether or not the name exists


def test_the_page_cap_per_person_holds(server, page):
    add_user(server, "ida")
    client = WebClient(server["url"])
    assert client.sign_in("ida")[0] == 302
    answers = [client.request("GET", "/")[0] for _ in range(6)]  # each a page with its kernel
    assert answers[:5] == [200] * 5 and answers[5] == 429
    status, _, body = client.request("GET", "/")
    assert status == 429 and "pages of the app open" in body
    add_user(server, "jon")
    sign_in_at_door(page, server["url"], "jon")  # someone else is not held up by ida's pages


def test_after_sign_in_only_paths_of_this_server_are_followed(server):
    add_user(server, "kai")
    client = WebClient(server["url"])
    assert client.sign_in("kai")[0] == 302
    for bad in ("/%5Cevil.example", "//evil.example", "https://evil.example/", "/%09/evil.example"):
        status, headers, _ = client.request("GET", f"/login?next={bad}")
        assert status == 302 and headers["location"] == "/", bad
    status, headers, _ = client.request("GET", "/login?next=/voila/static/x")
    assert headers["location"] == "/voila/static/x"


def test_the_first_administrator_cannot_be_made_through_another_name_for_the_server(tmp_path):
    with voila_server(tmp_path / "data") as url:
        client = WebClient(url)
        status, _, page = client.request("GET", "/signup", headers={"Host": "evil.example"})
        assert status == 200  # pages answer any name (a TLS proxy may use the server's real one)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
        form = {"_xsrf": xsrf, "username": "boss", "password": PASSWORD, "repeat": PASSWORD}
        status, _, _ = client.request("POST", "/signup", form, headers={"Host": "evil.example"})
        assert status == 403  # a site rebinding its name to 127.0.0.1 cannot make the first administrator
        assert not auth.has_accounts(Workspace.open(tmp_path / "data"))
        assert client.post_form("/signup", {"username": "boss", "password": PASSWORD, "repeat": PASSWORD})[0] == 302


def test_logging_out_and_in_again_does_not_reset_the_page_cap_and_kernels_stay_their_owners(server):
    add_user(server, "lea")
    client = WebClient(server["url"])
    assert client.sign_in("lea")[0] == 302
    assert [client.request("GET", "/")[0] for _ in range(5)] == [200] * 5
    status, _, page = client.request("GET", "/logout")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    assert client.request("POST", "/logout", {"_xsrf": xsrf})[0] == 302
    assert client.sign_in("lea")[0] == 302
    assert client.request("GET", "/")[0] == 429
    ws = Workspace.open(server["data_dir"])
    kernel = next(k for k in _kernels_in(server) if signins.kernel_owner(ws, k) == auth.find_user(ws, "lea").id)
    add_user(server, "max")
    other = WebClient(server["url"])
    assert other.sign_in("max")[0] == 302
    xsrf = other.cookies["_xsrf"]
    assert other.request("POST", f"/voila/api/shutdown/{kernel}", {"_xsrf": xsrf})[0] == 403  # not max's page


def _kernels_in(server) -> list[str]:
    """Kernel ids of the pages serving this data folder, from their connection files' names."""
    ids = []
    for pid in kernels_of(server["data_dir"]):
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode()
        found = re.search(r"kernel-([0-9a-f-]{36})\.json", cmdline)
        if found:
            ids.append(found.group(1))
    return ids
