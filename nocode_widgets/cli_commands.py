"""The sub-commands of `nocode`, each a `register(sub)` function that adds its parser."""

from __future__ import annotations

from . import auth
from .cli import _common, command, emit, open_workspace, read_password
from .errors import NocodeError


def _user_json(u: auth.User) -> dict:
    return {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled, "created": u.created}


def find_user_or_fail(ws, username: str) -> auth.User:
    user = auth.find_user(ws, username)
    if user is None:
        raise NocodeError(f"There is no user called {username!r}.")
    return user


@command
def _serve(sub):
    p = sub.add_parser("serve", help="start the web app (Voila) on a local port")
    _common(p)
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--open", action="store_true", help="open a browser")

    def run(args):
        from .serve import serve

        ws = open_workspace(args)
        return serve(ws.settings, port=args.port, host=args.host, open_browser=args.open)

    p.set_defaults(run=run)


@command
def _user(sub):
    p = sub.add_parser("user", help="manage accounts")
    users = p.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="create an account (password from NOCODE_PASSWORD or asked)")
    _common(add)
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")

    def run_add(args):
        ws = open_workspace(args)
        user = auth.sign_up(ws, args.name, read_password(), admin=args.admin)
        emit(args, _user_json(user), f"Created {user.role} {user.username} ({user.id})")

    add.set_defaults(run=run_add)

    lst = users.add_parser("list", help="list accounts")
    _common(lst)

    def run_list(args):
        rows = auth.list_users(open_workspace(args))
        text = "\n".join(f"{u.username:<32} {u.role:<6} {'disabled' if u.disabled else ''}" for u in rows)
        emit(args, [_user_json(u) for u in rows], text or "No users yet.")

    lst.set_defaults(run=run_list)
