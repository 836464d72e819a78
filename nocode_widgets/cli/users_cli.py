"""`nocode user add|list|role|unlock|passwd|disable|enable|delete`: the operator's account tools. The
command line acts as `auth.OPERATOR` (whoever can run it owns the server's data anyway)."""

from __future__ import annotations

from ..accounts import auth
from .common import add_common, emit, find_user_or_fail, open_workspace, read_password


def user_json(u: auth.User) -> dict:
    return {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled, "created": u.created}


def register(sub) -> None:
    p = sub.add_parser("user", help="manage accounts")
    users = p.add_subparsers(dest="user_command", required=True)

    add = users.add_parser("add", help="create an account (password from NOCODE_PASSWORD or asked)")
    add_common(add)
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--teacher", action="store_true", help="a teacher: makes classes and assignments")
    add.set_defaults(run=_add)

    role = users.add_parser("role", help="make an account a user, a teacher or an administrator")
    add_common(role)
    role.add_argument("name")
    role.add_argument("role", choices=auth.ROLES)
    role.set_defaults(run=_role)

    lst = users.add_parser("list", help="list accounts")
    add_common(lst)
    lst.set_defaults(run=_list)

    for name, help_text, run in (
            ("unlock", "forget an account's failed log-ins and lift its lock", _unlock),
            ("passwd", "set an account's password (from NOCODE_PASSWORD or asked); its sign-ins end", _passwd),
            ("disable", "stop an account from signing in (its pages sign out)", _disable),
            ("enable", "let a disabled account sign in again", _enable),
            ("forget-devices", "end every sign-in of an account (its open pages end too)", _forget_devices),
            ("delete", "delete an account with all its datasets and models", _delete)):
        cmd = users.add_parser(name, help=help_text)
        add_common(cmd)
        cmd.add_argument("name")
        cmd.set_defaults(run=run)


def _add(args):
    user = auth.sign_up(open_workspace(args), args.name, read_password(), admin=args.admin,
                        role="teacher" if args.teacher else "user")
    emit(args, user_json(user), f"Created {user.role} {user.username} ({user.id})")


def _list(args):
    ws = open_workspace(args)
    rows = auth.list_users(ws)
    state = lambda u: "disabled" if u.disabled else ("locked" if auth.is_locked(ws, u.id) else "")  # noqa: E731
    text = "\n".join(f"{u.username:<32} {u.role:<7} {state(u)}" for u in rows)
    emit(args, [{**user_json(u), "locked": auth.is_locked(ws, u.id)} for u in rows], text or "No users yet.")


def _act(args, action, done: str) -> None:
    ws = open_workspace(args)
    user = find_user_or_fail(ws, args.name)
    action(ws, user)
    emit(args, {"username": user.username, "id": user.id, "done": args.user_command}, f"{done} {user.username}.")


def _role(args):
    _act(args, lambda ws, u: auth.set_role(ws, auth.OPERATOR, u.id, args.role), f"Made {args.role}:")


def _unlock(args):
    _act(args, lambda ws, u: auth.unlock(ws, auth.OPERATOR, u.id), "Unlocked")


def _passwd(args):
    _act(args, lambda ws, u: auth.reset_password(ws, auth.OPERATOR, u.id, read_password("New password: ")),
         "Set a new password for")


def _disable(args):
    _act(args, lambda ws, u: auth.set_disabled(ws, auth.OPERATOR, u.id, True), "Disabled")


def _enable(args):
    _act(args, lambda ws, u: auth.set_disabled(ws, auth.OPERATOR, u.id, False), "Enabled")


def _forget_devices(args):
    from ..accounts.signins import end_all

    _act(args, lambda ws, u: end_all(ws, auth.OPERATOR, u.id), "Ended every sign-in (and open page) of")


def _delete(args):
    _act(args, lambda ws, u: auth.delete_account(ws, auth.OPERATOR, u.id), "Deleted")
