"""Who is signed in and what they may use.

`auth`: accounts, argon2id hashes, roles, lockout; `current_user` reloads the person for every action.
`session`: a signed-in page as a `Session`, which ends on log-out, idle, disable, delete or a new password.
`signins`: sign-ins at the web server's door (cookie tokens and one-time kernel tickets, only hashes stored).
`throttle`: failed door sign-ins per client address. `quota`: bytes and datasets per
person, space taken through reservations. `usage`: the Admin panel's per-person figures."""

from .auth import User, current_user, log_in, require_admin, sign_up
from .quota import QuotaError, check_space
from .session import Session

__all__ = ["QuotaError", "Session", "User", "check_space", "current_user", "log_in", "require_admin", "sign_up"]
