"""Failed sign-ins at the door slow down the address they come from, not the account (issue: sign in at
the door): guesses from one address never lock the owner out from another."""

import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.accounts.throttle import Throttle
from nocode_widgets.errors import AuthError


def test_guesses_from_one_address_slow_that_address_only():
    now = [1000.0]
    throttle = Throttle(per_account_address=3, per_address=10, base_s=30, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_s("alice", "10.0.0.2") == 0
        throttle.failed("alice", "10.0.0.2")
    assert throttle.wait_s("alice", "10.0.0.2") == pytest.approx(30)
    assert throttle.wait_s("alice", "10.0.0.1") == 0  # the owner, elsewhere
    throttle.failed("alice", "10.0.0.2")
    assert throttle.wait_s("alice", "10.0.0.2") == pytest.approx(60)  # doubles
    now[0] += 61
    assert throttle.wait_s("alice", "10.0.0.2") == 0


def test_many_accounts_tried_from_one_address_slow_the_address_down():
    throttle = Throttle(per_account_address=3, per_address=5, clock=lambda: 1000.0)
    for name in ("a1", "a2", "a3", "a4", "a5"):
        throttle.failed(name, "10.0.0.9")
    assert throttle.wait_s("someone-new", "10.0.0.9") > 0
    assert throttle.wait_s("someone-new", "10.0.0.8") == 0


def test_a_success_forgets_the_pairs_failures_and_old_failures_expire():
    now = [0.0]
    throttle = Throttle(per_account_address=2, per_address=50, window_s=100, clock=lambda: now[0])
    throttle.failed("bob", "h")
    throttle.succeeded("bob", "h")
    throttle.failed("bob", "h")
    assert throttle.wait_s("bob", "h") == 0
    throttle.failed("bob", "h")
    assert throttle.wait_s("bob", "h") > 0
    now[0] = 500.0
    assert throttle.wait_s("bob", "h") == 0


def test_verify_password_never_locks_the_account_and_says_the_same_for_unknown_names(ws, alice):
    messages = set()
    for _ in range(ws.settings.login_failures_before_lockout + 3):
        for name in ("alice", "nobody-here"):
            with pytest.raises(AuthError) as err:
                auth.verify_password(ws, name, "wrong-password")
            messages.add(str(err.value))
    assert messages == {"Wrong username or password."}
    assert auth.verify_password(ws, "alice", "password-alice").id == alice.id  # the owner is not locked out


def test_an_address_that_signed_in_before_is_not_held_by_a_strangers_guesses_from_it():
    throttle = Throttle(per_account_address=5, per_address=10, clock=lambda: 1000.0)
    throttle.succeeded("student", "10.0.0.1")  # yesterday's sign-in from the classroom's shared address
    for i in range(12):
        throttle.failed(f"victim{i}", "10.0.0.1")  # someone in the same room spraying guesses
    assert throttle.wait_s("newcomer", "10.0.0.1") > 0
    assert throttle.wait_s("student", "10.0.0.1") == 0


def test_ipv6_addresses_count_by_their_64():
    from nocode_widgets.door import throttle_key

    assert throttle_key("2001:db8:1:2:aaaa::1") == throttle_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert throttle_key("10.1.2.3") == "10.1.2.3"
