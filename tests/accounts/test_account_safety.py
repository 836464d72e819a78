"""Accounts an attacker cannot lock for long and an administrator can recover (issue: shared service)."""

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import AuthError
from nocode_widgets.store import Table
from tests.conftest import at_once, make_workspace


def locked_fraction(ws, attempts: list[float], horizon: float) -> float:
    """Share of minutes in [0, horizon) during which the account refuses even the right password,
    after wrong attempts at the given times (an attacker who knows only the name)."""
    attempts = sorted(attempts)
    locked, minute, i = 0, 0.0, 0
    while minute < horizon:
        while i < len(attempts) and attempts[i] <= minute:
            try:
                auth.log_in(ws, "alice", "wrong-guess", clock=lambda t=attempts[i]: t)
            except AuthError:
                pass
            i += 1
        doc = ws.store.get(Table.USERS, auth.find_user(ws, "alice").id)
        locked += doc["locked_until"] > minute
        minute += 60.0
    return locked / (horizon / 60)


def test_failures_decay_so_slow_guessing_never_locks_the_owner_out(ws, alice):
    # The review's attacker: 53 wrong attempts spread over 48 hours kept the account locked 99.7% of the time.
    horizon = 48 * 3600.0
    attempts = [k * horizon / 53 for k in range(53)]
    assert locked_fraction(ws, attempts, horizon) == 0.0
    assert auth.log_in(ws, "alice", "password-alice", clock=lambda: horizon + 1).id == alice.id


def test_lock_delay_is_capped_at_fifteen_minutes(ws, alice):
    now = 1000.0
    for k in range(30):  # a burst: each attempt made as soon as the account allows one
        try:
            auth.log_in(ws, "alice", "wrong-guess", clock=lambda: now)
        except AuthError:
            pass
        now = max(now, ws.store.get(Table.USERS, alice.id)["locked_until"]) + 0.1
    with pytest.raises(AuthError, match="locked"):
        auth.log_in(ws, "alice", "wrong-guess", clock=lambda: now - 1)
    delay = ws.store.get(Table.USERS, alice.id)["locked_until"] - ws.store.get(Table.USERS, alice.id)["failures"][-1]
    assert delay <= ws.settings.lockout_max_seconds == 900.0


def test_parallel_pages_get_no_more_guesses_than_one_page(ws, alice):
    errors = [str(e) for e in at_once(12, lambda: auth.log_in(ws, "alice", "wrong-guess", clock=lambda: 5000.0))
              if isinstance(e, AuthError)]
    wrong = [e for e in errors if e.startswith("Wrong")]
    assert len(errors) == 12 and len(wrong) == ws.settings.login_failures_before_lockout  # 5 checked, 7 refused


def test_admin_unlocks_a_locked_account(ws, alice, bob):
    for _ in range(5):
        with pytest.raises(AuthError):
            auth.log_in(ws, "bob", "wrong-guess")
    with pytest.raises(AuthError, match="locked"):
        auth.log_in(ws, "bob", "password-bob")
    with pytest.raises(AuthError, match="administrator"):
        auth.unlock(ws, bob, bob.id)
    auth.unlock(ws, alice, bob.id)
    assert auth.log_in(ws, "bob", "password-bob").id == bob.id


def test_password_reset_by_an_admin_ends_the_old_sign_ins(ws, alice, bob):
    auth.reset_password(ws, alice, bob.id, "new-password-bob")
    with pytest.raises(AuthError, match="session has ended"):
        auth.current_user(ws, bob)  # the page bob had open
    with pytest.raises(AuthError, match="Wrong"):
        auth.log_in(ws, "bob", "password-bob")
    assert auth.log_in(ws, "bob", "new-password-bob").id == bob.id


def test_changing_ones_password_ends_every_other_sign_in(ws, alice):
    other_tab = auth.log_in(ws, "alice", "password-alice")
    renewed = auth.change_password(ws, alice, "password-alice", "another-password")
    assert auth.current_user(ws, renewed).id == alice.id
    with pytest.raises(AuthError, match="session has ended"):
        auth.current_user(ws, other_tab)


def test_closed_sign_up_refuses_the_page_but_an_admin_can_create_accounts(tmp_path):
    ws = make_workspace(tmp_path / "d", signup="closed")
    admin = auth.sign_up(ws, "root-admin", "password-admin")  # the operator's command line
    with pytest.raises(AuthError, match="Sign-up is closed"):
        auth.sign_up_on_page(ws, "mallory", "password123")
    made = auth.create_account(ws, admin, "carol", "password-carol")
    assert made.role == "user"
    with pytest.raises(AuthError, match="administrator"):
        auth.create_account(ws, made, "dave", "password-dave")


def test_nobody_becomes_admin_through_a_page_served_beyond_this_machine(tmp_path):
    from nocode_widgets.ui import LoginPanel

    ws = make_workspace(tmp_path / "d", serve_host="0.0.0.0")
    assert "nocode user add NAME --admin" in LoginPanel(ws).children[-1].value  # the page says so
    with pytest.raises(AuthError, match="no administrator yet.*nocode user add"):
        auth.sign_up_on_page(ws, "mallory", "password123")
    assert ws.store.find(Table.USERS) == []
    auth.sign_up(ws, "owner", "password-owner", admin=True)
    assert auth.sign_up_on_page(ws, "carol", "password-carol").role == "user"


def test_on_this_machine_only_the_first_page_account_is_the_admin(tmp_path):
    ws = make_workspace(tmp_path / "d", serve_host="127.0.0.1")
    assert auth.sign_up_on_page(ws, "first", "password-first").role == "admin"
    assert auth.sign_up_on_page(ws, "second", "password-second").role == "user"
