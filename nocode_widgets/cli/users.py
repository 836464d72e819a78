"""`nocode user add|list`."""

from __future__ import annotations

from .. import auth
from .common import add_common, emit, open_workspace, read_password


def user_json(u: auth.User) -> dict:
    return {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled, "created": u.created}


def register(sub) -> None:
    p = sub.add_parser("user", help="manage accounts")
    users = p.add_subparsers(dest="user_command", required=True)

    add = users.add_parser("add", help="create an account (password from NOCODE_PASSWORD or asked)")
    add_common(add)
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.set_defaults(run=_add)

    lst = users.add_parser("list", help="list accounts")
    add_common(lst)
    lst.set_defaults(run=_list)


def _add(args):
    user = auth.sign_up(open_workspace(args), args.name, read_password(), admin=args.admin)
    emit(args, user_json(user), f"Created {user.role} {user.username} ({user.id})")


def _list(args):
    rows = auth.list_users(open_workspace(args))
    text = "\n".join(f"{u.username:<32} {u.role:<6} {'disabled' if u.disabled else ''}" for u in rows)
    emit(args, [user_json(u) for u in rows], text or "No users yet.")
