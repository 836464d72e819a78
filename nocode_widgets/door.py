"""The web server's door: people sign in on pages the server serves itself, before any kernel starts.

`serve.py` plugs these into Voila (a jupyter_server application):
- `DoorIdentityProvider`: who a request comes from, by the HttpOnly session cookie (`accounts/signins`);
  `/login`, `/signup` and `/logout` are its pages (plain HTML forms under the server's XSRF token, made
  for password managers). A visitor without a valid cookie is sent to `/login`; no kernel starts for them.
  A correct one-time password (a class roster's, a reset's) leads only to `/password`, "choose your own",
  under a short-lived token in the server's memory (`PasswordChanges`); the cookie comes after.
- `prelaunch_hook`: runs for a signed-in visitor just before Voila starts the page's kernel; it enforces
  the per-person page cap and writes a one-time ticket into the app notebook's cell, which the kernel
  redeems against the store (`ui/app.App(ticket=...)`). The kernel never sees the cookie, and the
  browser never holds anything the kernel trusts.
- `DoorAuthorizer`: a kernel's websocket is only for the person whose page the kernel serves.

Failed sign-ins are throttled per (account, client address) and per address (`accounts/throttle`); the
client address is the socket's, or the X-Forwarded-For of a proxy named in `NOCODE_TRUSTED_PROXIES`."""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import random
import re
import secrets
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider
from jupyter_server.auth.identity import User as WebUser
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .accounts import auth, signins
from .accounts.throttle import SLOW_DOWN, Throttle, wait_text
from .errors import AuthError, NocodeError
from .store import BUSY
from .workspace import Workspace

log = logging.getLogger("nocode_widgets.door")
TICKET_MARK = 'App(ticket="")'  # the app notebook's cell; the hook fills the ticket in
_WORKSPACE: list[Workspace] = []
THROTTLE = Throttle()
SIGN_UPS = Throttle(per_account_address=30, per_address=10**9, window_s=3600.0, base_s=10.0)  # per address
# Password hashing (argon2: tens of MB and a good fraction of a second, on purpose) runs beside the server's
# event loop, never on it, a few at a time; beyond that many waiting, "busy".
HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nocode-argon2")
MAX_HASHING_WAITING = 64  # about 8 s of queue at 2 workers; the event loop never waits on them
_hashing_now = [0]


async def hashing(function, *args):
    if _hashing_now[0] >= MAX_HASHING_WAITING:
        raise NocodeError(BUSY)
    _hashing_now[0] += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(HASHING, function, *args)
    finally:
        _hashing_now[0] -= 1


def workspace() -> Workspace:
    """The server process's workspace (NOCODE_* variables, as `nocode serve` sets them)."""
    if not _WORKSPACE:
        _WORKSPACE.append(Workspace.open())
    return _WORKSPACE[0]


def client_address(handler: web.RequestHandler) -> str:
    """The socket's peer; behind a trusted proxy, the nearest address it was forwarded for that is not
    itself a trusted proxy."""
    peer = handler.request.remote_ip or ""
    trusted = _trusted_proxies()
    if not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in handler.request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return peer


def throttle_key(address: str) -> str:
    """What the throttle counts by: an IPv4 address, or an IPv6 address's /64 (one home or phone network
    has a whole /64 to pick addresses from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address


def _trusted_proxies() -> list:
    nets = []
    for item in workspace().settings.trusted_proxies.split(","):
        try:
            nets.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue
    return nets


def _is_trusted(address: str, nets: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def served_over_https(handler: web.RequestHandler) -> bool:
    mode = workspace().settings.secure_cookies
    if mode != "auto":
        return mode == "always"
    if handler.request.protocol == "https":
        return True
    proto = handler.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" and _is_trusted(handler.request.remote_ip or "", _trusted_proxies())


def signed_in(handler: web.RequestHandler) -> tuple[auth.User, signins.SignIn] | None:
    """The person and sign-in of a request's cookie (looked up once per request)."""
    if not hasattr(handler, "_nocode_signin"):
        try:
            handler._nocode_signin = signins.find(workspace(), handler.get_cookie(signins.COOKIE))
        except NocodeError:  # the store is busy: nobody is turned away as a stranger for that
            raise web.HTTPError(503, reason=BUSY) from None
    return handler._nocode_signin


class DoorIdentityProvider(IdentityProvider):
    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True

    @property
    def logout_available(self) -> bool:
        return True

    def get_user(self, handler: web.RequestHandler) -> WebUser | None:
        """Every request passes here first (jupyter_server's `prepare`), so the checks that hold for all of
        Voila's routes are made here too."""
        held = signed_in(handler)
        if held is None:
            return None
        user = held[0]
        found = SHUTDOWN_ROUTE.search(handler.request.path)
        if found and signins.kernel_owner(workspace(), found.group(1)) != user.id:
            raise web.HTTPError(403)  # Voila's "shut down this kernel" route: only for the page's own person
        return WebUser(username=user.id, name=user.username, display_name=user.username)

    def get_handlers(self) -> list:
        base = getattr(self.parent, "base_url", "/") or "/"
        return [(url_path_join(base, path), page) for path, page in
                ((r"/login", SignInHandler), (r"/signup", SignUpHandler), (r"/logout", SignOutHandler),
             (r"/password", OwnPasswordHandler))]


SHUTDOWN_ROUTE = re.compile(r"/voila/api/shutdown/([^/]+)$")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def check_host(handler: web.RequestHandler) -> None:
    """The sign-up that would make the first, administrator account on a server served on this machine
    must name this machine: a web page elsewhere cannot point a name of its own at 127.0.0.1 (DNS
    rebinding) and take the server over. (Behind a proxy with a real name, the first administrator is
    made with `nocode user add NAME --admin`, as on any network.)"""
    ws = workspace()
    if ws.settings.served_on_loopback and not auth.has_accounts(ws):
        host = urllib.parse.urlsplit("//" + handler.request.host).hostname or ""
        if host.lower() not in LOOPBACK_NAMES and not host.startswith("127."):
            raise web.HTTPError(403, reason="This server answers only to this computer's own addresses.")


class DoorAuthorizer(Authorizer):
    def is_authorized(self, handler: JupyterHandler, user: WebUser, action: str, resource: str) -> bool:
        """A kernel (its websocket, its API) is only for the person whose page it serves."""
        kernel_id = (handler.path_kwargs or {}).get("kernel_id")
        if resource != "kernels" or not kernel_id:
            return True
        owner = signins.kernel_owner(workspace(), kernel_id)
        if owner != user.username:
            log.warning("refused %s on kernel %s: not the page of the person asking", action, kernel_id)
        return owner == user.username


class StartingPages:
    """Pages being started (the kernel starting, then the app notebook running), at most a few at once: on a
    small machine, a crowd starting together starves every kernel, and Voila then gives up waiting for
    their output and shows blank pages. The page beyond the limit gets a plain "busy" page that tries
    again by itself. Counted in the server's memory; a page leaves the count when its response ends."""

    STALE_S = 300.0  # a page still counted this long after it began is not waited for

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._since: dict[int, tuple[float, str]] = {}

    PER_PERSON = 2  # one person's pages starting at once (nobody takes every slot)

    def admit(self, handler: web.RequestHandler, limit: int, person: str) -> bool:
        now = self.clock()
        self._since = {key: t for key, t in self._since.items() if now - t[0] < self.STALE_S}
        if len(self._since) >= limit or sum(1 for _, who in self._since.values() if who == person) >= self.PER_PERSON:
            return False
        key = id(handler)
        self._since[key] = (now, person)
        for name in ("on_finish", "on_connection_close"):
            original = getattr(handler, name)

            def leave(original=original):
                self._since.pop(key, None)
                original()

            setattr(handler, name, leave)
        return True

    def __len__(self) -> int:
        return len(self._since)


STARTING = StartingPages()


def prelaunch_hook(handler: web.RequestHandler, notebook, cwd: str):
    """For a signed-in visitor, before the page's kernel starts: a start slot, the per-person page cap, and
    a one-time ticket written into the app cell for the kernel to redeem."""
    held = signed_in(handler)
    if held is None:
        raise web.HTTPError(403)
    ws = workspace()
    if not STARTING.admit(handler, ws.settings.max_starting_pages, held[0].id):
        wait = random.randint(4, 12)  # spread the retries of a crowd
        door_page(handler, "Busy", BUSY_PAGE.replace("__WAIT__", str(wait)), status=503, refresh=wait)
        raise web.Finish()
    try:
        running = set(handler.kernel_manager.list_kernel_ids())  # a page counts while its kernel runs here
        ticket = signins.mint_ticket(ws, held[1], ws.settings.max_pages_per_user,
                                     alive=lambda page: page["kernel"] in running)
    except signins.TooManyPages as exc:
        door_page(handler, "Too many pages", TOO_MANY, str(exc), status=429)
        raise web.Finish() from None
    except AuthError:
        raise web.HTTPError(403) from None
    except NocodeError:
        raise web.HTTPError(503, reason=BUSY) from None
    for cell in notebook.cells:
        if cell.cell_type == "code" and TICKET_MARK in cell.source:
            cell.source = cell.source.replace(TICKET_MARK, f'App(ticket="{ticket}")')
            return notebook
    raise web.HTTPError(500, reason="The app notebook has no App(ticket=\"\") cell.")


def door_page(handler: web.RequestHandler, title: str, body: str, message: str = "", kind: str = "error",
              status: int = 200, typed: dict[str, str] | None = None, refresh: int | None = None) -> None:
    """Write one of the door's pages (plain HTML in the app's look). What a visitor typed (`typed`: marker ->
    text) goes in last and escaped, so it can never be read as markup or as another marker."""
    handler.set_status(status)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "same-origin")
    note = f'<p class="msg {kind}" role="alert">{html.escape(message)}</p>' if message else ""
    base = getattr(handler, "base_url", "/")
    for marker, value in {"{note}": note, "{xsrf}": handler.xsrf_form_html(), "{base}": html.escape(base)}.items():
        body = body.replace(marker, value)
    for marker, value in (typed or {}).items():
        body = body.replace(marker, html.escape(value, quote=True))
    head = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    handler.finish(PAGE.replace("__HEAD__", head).replace("__TITLE__", html.escape(title)).replace("__BODY__", body))


# The pages ---------------------------------------------------------------------------------------------

class _DoorPage(JupyterHandler):
    """A page of the door: plain HTML, no kernel, no JavaScript needed."""

    def page(self, title: str, body: str, message: str = "", kind: str = "error", status: int = 200,
             typed: dict[str, str] | None = None) -> None:
        door_page(self, title, body, message, kind, status, typed)

    def back_to(self) -> str:
        """Where to go after signing in: a path of this server, never another site."""
        target = self.get_argument("next", "") or self.base_url
        parts = urllib.parse.urlsplit(target)
        if (parts.scheme or parts.netloc or not target.startswith(self.base_url) or target.startswith("//")
                or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target)):
            return self.base_url  # browsers read "/\\x" as "//x": another site
        return target

    def sign_in_as(self, user: auth.User, keep: bool) -> None:
        old = signed_in(self)
        if old is not None:
            signins.end(workspace(), old[1].id)  # one sign-in per browser
        token, signin = signins.start(workspace(), user, keep)
        self.set_cookie(signins.COOKIE, token, path=self.base_url, httponly=True, samesite="Lax",
                        secure=served_over_https(self),
                        expires_days=workspace().settings.remember_days if keep else None)
        self.redirect(self.back_to())

    def fields(self) -> tuple[str, str]:
        return self.get_body_argument("username", "")[:200], self.get_body_argument("password", "")[:1024]


class SignInHandler(_DoorPage):
    @allow_unauthenticated
    def get(self) -> None:
        if signed_in(self) is not None:
            return self.redirect(self.back_to())
        said = {"out": ("You have logged out.", "info"), "ended": (signins.ENDED, "info")}
        message, kind = said.get(self.get_argument("said", ""), ("", "info"))
        self.page("Sign in", self.sign_in_form(), message, kind, typed=self.typed(""))

    @allow_unauthenticated
    async def post(self) -> None:
        name, password = self.fields()
        address, account = throttle_key(client_address(self)), _account_key(name)
        wait = THROTTLE.wait_s(account, address)
        if wait > 0:  # refused before any password work
            return self.page("Sign in", self.sign_in_form(), SLOW_DOWN.format(wait=wait_text(wait)), status=429,
                             typed=self.typed(name))
        try:
            user = await hashing(auth.verify_password, workspace(), name, password)
        except AuthError as exc:
            THROTTLE.failed(account, address)
            return self.page("Sign in", self.sign_in_form(), str(exc), status=403, typed=self.typed(name))
        except NocodeError:
            return self.page("Sign in", self.sign_in_form(), BUSY, status=503, typed=self.typed(name))
        THROTTLE.succeeded(account, address)
        if user.must_change:  # a one-time password from a teacher or an administrator opens only this form
            return self.page("Choose your password", OWN_PASSWORD, typed={"__TOKEN__": CHANGES.offer(user),
                                                                            "__NEXT__": self.get_argument("next", "")[:1000]})
        self.sign_in_as(user, keep=self.get_body_argument("keep", "") == "on")

    def typed(self, name: str) -> dict[str, str]:
        return {"__NAME__": name, "__NEXT__": self.get_argument("next", "")[:1000]}

    def sign_in_form(self) -> str:
        ws = workspace()
        keep = " checked" if ws.settings.served_on_loopback else ""
        signup = ('<p class="alt">New here? <a href="{base}signup">Create an account</a></p>'
                  if ws.settings.signup == "open" else
                  "<p class='alt'>New accounts are made by an administrator on this server.</p>")
        return SIGN_IN.replace("__KEEP__", keep).replace("__SIGNUP__", signup)


class SignUpHandler(_DoorPage):
    @allow_unauthenticated
    def get(self) -> None:
        self.page("Create an account", SIGN_UP, *self.closed_note(), typed={"__NAME__": ""})

    @allow_unauthenticated
    async def post(self) -> None:
        name, password = self.fields()
        address = throttle_key(client_address(self))
        wait = SIGN_UPS.wait_s("(sign-up)", address)
        if wait > 0:
            return self.page("Create an account", SIGN_UP, SLOW_DOWN.format(wait=wait_text(wait)), status=429,
                             typed={"__NAME__": name})
        if password != self.get_body_argument("repeat", "")[:1024]:
            return self.page("Create an account", SIGN_UP, "The two passwords differ. Please type them again.",
                             status=400, typed={"__NAME__": name})
        check_host(self)
        SIGN_UPS.failed("(sign-up)", address)  # every attempt counts: accounts cost space and argon2 work
        try:
            user = await hashing(auth.sign_up_on_page, workspace(), name, password)
        except AuthError as exc:
            return self.page("Create an account", SIGN_UP, str(exc), status=400, typed={"__NAME__": name})
        except NocodeError as exc:
            return self.page("Create an account", SIGN_UP, str(exc), status=503, typed={"__NAME__": name})
        self.sign_in_as(user, keep=workspace().settings.served_on_loopback)

    def closed_note(self) -> tuple[str, str]:
        ws = workspace()
        if ws.settings.signup == "closed":
            return "Sign-up is closed on this server. Ask an administrator for an account.", "info"
        if not ws.settings.served_on_loopback and not auth.has_accounts(ws):
            return ("This server has no administrator yet: the person who runs it creates the first one with "
                    "nocode user add NAME --admin", "info")
        return "", "info"


class PasswordChanges:
    """Accounts that just proved their one-time password and may now choose their own, by an unguessable token
    in the form (never the password itself), for `ttl_s`; held in the server's memory, at most `most`."""

    def __init__(self, ttl_s: float = 600.0, most: int = 10_000, clock=time.monotonic):
        self.ttl_s, self.most, self.clock = ttl_s, most, clock
        self.waiting: dict[str, tuple[str, str, float]] = {}  # token -> (user id, stamp, until)

    def offer(self, user: auth.User) -> str:
        now = self.clock()
        self.waiting = {t: v for t, v in self.waiting.items() if v[2] > now}
        while len(self.waiting) >= self.most:
            self.waiting.pop(next(iter(self.waiting)))
        token = secrets.token_urlsafe(24)
        self.waiting[token] = (user.id, user.stamp, now + self.ttl_s)
        return token

    def holder(self, token: str) -> tuple[str, str] | None:
        found = self.waiting.get(token)
        return found[:2] if found and found[2] > self.clock() else None

    def spent(self, token: str) -> None:
        self.waiting.pop(token, None)


CHANGES = PasswordChanges()


class OwnPasswordHandler(_DoorPage):
    """The form a one-time password leads to: choose one's own, then one is signed in."""

    @allow_unauthenticated
    def get(self) -> None:
        self.redirect(f"{self.base_url}login")

    @allow_unauthenticated
    async def post(self) -> None:
        token = self.get_body_argument("token", "")[:100]
        new, repeat = (self.get_body_argument(k, "")[:1024] for k in ("password", "repeat"))
        held = CHANGES.holder(token)
        if held is None:
            return self.page("Sign in", SIGN_IN_AGAIN, "This page has expired. Please sign in again.", status=403)
        typed = {"__TOKEN__": token, "__NEXT__": self.get_argument("next", "")[:1000]}
        if new != repeat:
            return self.page("Choose your password", OWN_PASSWORD, "The two passwords differ. Please type them again.",
                             status=400, typed=typed)
        try:
            user = await hashing(auth.replace_one_time_password, workspace(), *held, new)
        except AuthError as exc:
            return self.page("Choose your password", OWN_PASSWORD, str(exc), status=400, typed=typed)
        except NocodeError:
            return self.page("Choose your password", OWN_PASSWORD, BUSY, status=503, typed=typed)
        CHANGES.spent(token)
        self.sign_in_as(user, keep=False)


class SignOutHandler(_DoorPage):
    @allow_unauthenticated
    def get(self) -> None:
        """A link can only show the button (logging out on a GET would let any site log people out)."""
        self.page("Log out", LOG_OUT)

    @allow_unauthenticated
    def post(self) -> None:
        held = signed_in(self)
        if held is not None:
            signins.end(workspace(), held[1].id)  # every page of this sign-in ends within seconds
        self.clear_cookie(signins.COOKIE, path=self.base_url)
        self.redirect(f"{self.base_url}login?said=out")


def _account_key(name: str) -> str:
    try:
        return auth.username_key(auth.normalize_username(name))
    except AuthError:
        return re.sub(r"\s+", " ", name.strip().lower())[:64]


# The HTML. One stylesheet for the door's pages; colours with at least 4.5:1 contrast. --------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ - No-code image classifier</title>__HEAD__
<style>
:root { --ink:#1d2733; --muted:#4a5868; --line:#c9d2dc; --brand:#1556b8; --bg:#f3f5f8; --bad:#a4161a; --ok:#1b5e20; }
* { box-sizing:border-box; }
body { margin:0; font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:12px 24px; font-weight:600; }
main { max-width:420px; margin:48px auto; padding:0 16px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:24px; }
h1 { font-size:24px; margin:0 0 4px; }
p { margin:8px 0; }
label { display:block; font-weight:600; margin:16px 0 4px; }
input[type=text], input[type=password] { width:100%; font:inherit; padding:8px 10px; border:1px solid #7a8794; border-radius:6px; }
.check { display:flex; gap:8px; align-items:center; font-weight:400; }
button { font:inherit; font-weight:600; margin-top:20px; padding:10px 18px; border:0; border-radius:6px; background:var(--brand); color:#fff; cursor:pointer; }
:focus-visible { outline:3px solid #f0a500; outline-offset:2px; }
a { color:var(--brand); }
.hint, .alt { color:var(--muted); font-size:14px; }
.msg { padding:10px 12px; border-radius:6px; border:1px solid; }
.msg.error { color:var(--bad); border-color:var(--bad); background:#fdeeee; }
.msg.info { color:var(--ok); border-color:var(--ok); background:#edf7ee; }
@media (prefers-reduced-motion: reduce) { * { transition:none !important; animation:none !important; } }
</style></head>
<body><header>No-code image classifier</header>
<main><div class="card">__BODY__</div></main>
<script>try { localStorage.removeItem("nocode-device-token"); } catch (e) {}</script>
</body></html>"""

SIGN_IN = """<h1>Welcome</h1><p>Sign in to train image classifiers.</p>{note}
<form method="post" action="{base}login">{xsrf}<input type="hidden" name="next" value="__NEXT__">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false"
 required maxlength="64" value="__NAME__" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<label class="check"><input type="checkbox" name="keep"__KEEP__> Keep me signed in on this browser</label>
<button type="submit">Log in</button>
</form>__SIGNUP__"""

SIGN_UP = """<h1>Create an account</h1>{note}
<form method="post" action="{base}signup">{xsrf}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false"
 required maxlength="64" value="__NAME__" placeholder="3 to 32 letters or digits" aria-describedby="name-hint" autofocus>
<p class="hint" id="name-hint">3 to 32 letters, digits, _ - or .</p>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required maxlength="1024"
 placeholder="at least 8 characters" aria-describedby="password-hint">
<p class="hint" id="password-hint">At least 8 characters.</p>
<label for="repeat">Repeat the password</label>
<input id="repeat" name="repeat" type="password" autocomplete="new-password" required maxlength="1024">
<button type="submit">Create account</button>
</form><p class="alt">Have an account? <a href="{base}login">Sign in</a></p>"""

OWN_PASSWORD = """<h1>Choose your password</h1><p>You signed in with a password you were given. Choose one of your
own now; the one you were given stops working.</p>{note}
<form method="post" action="{base}password">{xsrf}<input type="hidden" name="token" value="__TOKEN__">
<input type="hidden" name="next" value="__NEXT__">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required maxlength="1024"
 aria-describedby="password-hint" autofocus>
<p class="hint" id="password-hint">At least 8 characters.</p>
<label for="repeat">Repeat the new password</label>
<input id="repeat" name="repeat" type="password" autocomplete="new-password" required maxlength="1024">
<button type="submit">Save and continue</button>
</form>"""

SIGN_IN_AGAIN = """<h1>Sign in again</h1>{note}<p><a href="{base}login">Sign in</a></p>"""

BUSY_PAGE = """<h1>One moment</h1><p>Many people are opening the app right now. This page tries again by itself in
__WAIT__ seconds; you need not do anything.</p><p><a href="{base}">Try again now</a></p>"""

TOO_MANY = """<h1>Too many pages</h1>{note}<p><a href="{base}">Try again</a></p>"""

LOG_OUT = """<h1>Log out</h1><p>Log out of this browser? Every page of the app open in it ends.</p>
<form method="post" action="{base}logout">{xsrf}<button type="submit">Log out</button></form>{note}"""
