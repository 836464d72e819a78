""""Keep me signed in on this device" tokens (issue: sign-in like a web app)."""

import pytest

from nocode_widgets.accounts import auth, remember
from nocode_widgets.errors import AuthError
from tests.conftest import make_workspace


def test_a_device_token_signs_its_user_in_and_only_its_hash_is_stored(ws, alice):
    token = remember.remember_device(ws, alice)
    assert remember.sign_in_with_token(ws, token).id == alice.id
    stored = ws.settings.db_path.read_text()
    assert token not in stored and remember._digest(token) in stored


def test_an_expired_token_does_not_sign_in(tmp_path):
    ws = make_workspace(tmp_path / "d", remember_days=14)
    alice = auth.sign_up(ws, "alice", "password-alice")
    token = remember.remember_device(ws, alice, clock=lambda: 1000.0)
    assert remember.sign_in_with_token(ws, token, clock=lambda: 1000.0 + 13.9 * 86400).id == alice.id
    with pytest.raises(AuthError, match="expired or was revoked"):
        remember.sign_in_with_token(ws, token, clock=lambda: 1000.0 + 14.1 * 86400)
    assert remember.device_count(ws, alice.id) == 0  # purged


@pytest.mark.parametrize("change", ["password", "reset", "disable", "delete"])
def test_every_token_of_a_user_stops_working_when_the_account_changes(ws, alice, bob, change):
    tokens = [remember.remember_device(ws, bob) for _ in range(2)]  # two devices
    if change == "password":
        auth.change_password(ws, bob, "password-bob", "another-password")
    elif change == "reset":
        auth.reset_password(ws, alice, bob.id, "another-password")
    elif change == "disable":
        auth.set_disabled(ws, alice, bob.id, True)
        auth.set_disabled(ws, alice, bob.id, False)  # enabling again does not bring them back
    else:
        auth.delete_account(ws, alice, bob.id)
    for token in tokens:
        with pytest.raises(AuthError):
            remember.sign_in_with_token(ws, token)
    assert remember.device_count(ws, bob.id) == 0


def test_log_out_forgets_one_device_and_an_admin_can_forget_them_all(ws, alice, bob):
    laptop, phone, tablet = (remember.remember_device(ws, bob) for _ in range(3))
    remember.forget_device(ws, laptop)
    with pytest.raises(AuthError):
        remember.sign_in_with_token(ws, laptop)
    assert remember.sign_in_with_token(ws, phone).id == bob.id
    carol = auth.sign_up(ws, "carol", "password-carol")
    with pytest.raises(AuthError, match="administrator"):
        remember.forget_all_devices(ws, carol, bob.id)
    assert remember.forget_all_devices(ws, alice, bob.id) == 2
    with pytest.raises(AuthError):
        remember.sign_in_with_token(ws, tablet)


@pytest.mark.parametrize("junk", [None, "", "x", "a" * 500, 42])
def test_junk_from_a_page_is_refused_plainly(ws, junk):
    with pytest.raises(AuthError, match="log in again"):
        remember.sign_in_with_token(ws, junk)
