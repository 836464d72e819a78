"""Sign-ins at the web server's door (issue: sign in at the door): a cookie token kept only as a hash, with
an expiry; one-time tickets for page kernels that cannot be forged or replayed; the per-person page cap;
everything of a sign-in ending with it."""

import os
import subprocess
import sys

import pytest

from nocode_widgets.accounts import auth, signins
from nocode_widgets.accounts.session import Session
from nocode_widgets.errors import AuthError
from nocode_widgets.store import Table


def test_a_sign_in_is_known_by_its_token_and_only_the_hash_is_stored(ws, alice):
    token, signin = signins.start(ws, alice, keep=False)
    user, found = signins.find(ws, token)
    assert (user.id, found.id) == (alice.id, signin.id)
    stored = ws.settings.db_path.read_text()
    assert token not in stored and signins._digest(token) in stored
    assert signins.find(ws, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert signins.find(ws, "") is None and signins.find(ws, None) is None and signins.find(ws, "x" * 500) is None


def test_keep_me_signed_in_lasts_remember_days_else_a_day(ws, alice):
    short, _ = signins.start(ws, alice, keep=False, clock=lambda: 1000.0)
    long, _ = signins.start(ws, alice, keep=True, clock=lambda: 1000.0)
    day = 1000.0 + signins.SESSION_HOURS * 3600
    assert signins.find(ws, short, clock=lambda: day - 1) and signins.find(ws, short, clock=lambda: day + 1) is None
    assert signins.find(ws, long, clock=lambda: day + 1)
    assert signins.find(ws, long, clock=lambda: 1000.0 + ws.settings.remember_days * 86400 + 1) is None


def test_a_new_password_disabling_or_an_admin_ends_every_sign_in(ws, alice, bob):
    tokens = [signins.start(ws, bob, keep=True)[0] for _ in range(3)]
    auth.set_disabled(ws, alice, bob.id, True)
    assert all(signins.find(ws, t) is None for t in tokens)
    auth.set_disabled(ws, alice, bob.id, False)
    bob = auth.find_user(ws, "bob")
    tokens = [signins.start(ws, bob, keep=True)[0] for _ in range(2)]
    auth.reset_password(ws, alice, bob.id, "a-new-password")
    assert all(signins.find(ws, t) is None for t in tokens) and signins.count(ws, bob.id) == 0
    bob = auth.find_user(ws, "bob")
    token, _ = signins.start(ws, bob, keep=True)
    with pytest.raises(AuthError):
        signins.end_all(ws, auth.sign_up(ws, "carol", "password-carol"), bob.id)  # not an admin
    assert signins.end_all(ws, alice, bob.id) == 1 and signins.find(ws, token) is None


def test_a_ticket_is_redeemed_once_and_cannot_be_forged(ws, alice):
    _, signin = signins.start(ws, alice, keep=False)
    ticket = signins.mint_ticket(ws, signin, max_pages=5)
    assert signin.id in ticket and ticket.split(".", 1)[1] not in ws.settings.db_path.read_text()
    user, signin_id = signins.redeem_ticket(ws, ticket, "k-1", os.getpid())
    assert (user.id, signin_id) == (alice.id, signin.id)
    with pytest.raises(AuthError):
        signins.redeem_ticket(ws, ticket, "k-2", os.getpid())  # replayed
    forged = f"{signin.id}.{'x' * 32}"
    for bad in (forged, signin.id, "", ".", "nothing.here", ticket + "x"):
        with pytest.raises(AuthError):
            signins.redeem_ticket(ws, bad, "k-3", os.getpid())
    assert signins.kernel_owner(ws, "k-1") == alice.id and signins.kernel_owner(ws, "k-3") is None


def test_an_old_ticket_is_refused(ws, alice):
    _, signin = signins.start(ws, alice, keep=False)
    ticket = signins.mint_ticket(ws, signin, max_pages=5, clock=lambda: 1000.0)
    with pytest.raises(AuthError):
        signins.redeem_ticket(ws, ticket, "k-1", os.getpid(), clock=lambda: 1000.0 + signins.TICKET_TTL_S + 1)


def test_the_page_cap_counts_live_pages_and_tickets_of_every_sign_in_of_the_person(ws, alice, bob):
    _, laptop = signins.start(ws, alice, keep=False)
    _, phone = signins.start(ws, alice, keep=False)
    signins.redeem_ticket(ws, signins.mint_ticket(ws, laptop, 3), "k-1", os.getpid())
    signins.mint_ticket(ws, phone, 3)  # a page starting
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    signins.redeem_ticket(ws, signins.mint_ticket(ws, phone, 3), "k-2", gone.pid)  # its kernel has ended
    signins.mint_ticket(ws, laptop, 3)
    with pytest.raises(signins.TooManyPages, match="3 pages"):
        signins.mint_ticket(ws, phone, 3)
    _, bobs = signins.start(ws, bob, keep=False)
    assert signins.mint_ticket(ws, bobs, 3)  # someone else's pages do not count


def test_a_page_session_ends_with_its_sign_in(ws, alice):
    _, signin = signins.start(ws, alice, keep=False)
    user, signin_id = signins.redeem_ticket(ws, signins.mint_ticket(ws, signin, 5), "k-1", os.getpid())
    session = Session(ws, user, signin_id=signin_id)
    assert session.check().id == alice.id
    signins.end(ws, signin_id)  # Log out in another tab
    with pytest.raises(AuthError):
        session.check()
    assert session.ended and "signed out" in session.end_reason


def test_signing_in_drops_old_browser_storage_tokens_and_keeps_at_most_the_newest_sign_ins(ws, alice):
    ws.store.insert(Table.DEVICES, {"id": "dev_old", "user": alice.id, "hash": "0" * 64, "stamp": alice.stamp,
                                    "created": 1.0, "expires": 9e12})  # "keep me signed in" of the old kind
    tokens = [signins.start(ws, alice, keep=True)[0] for _ in range(signins.MAX_SIGNINS_PER_USER + 2)]
    assert ws.store.get(Table.DEVICES, "dev_old") is None
    assert signins.count(ws, alice.id) == signins.MAX_SIGNINS_PER_USER
    assert signins.find(ws, tokens[0]) is None and signins.find(ws, tokens[-1])


def test_logging_out_and_in_again_does_not_reset_the_page_cap(ws, alice):
    _, first = signins.start(ws, alice, keep=False)
    for kernel in ("k-1", "k-2"):
        signins.redeem_ticket(ws, signins.mint_ticket(ws, first, 2), kernel, os.getpid())
    signins.end(ws, first.id)  # Log out: the two pages' kernels still run until they are closed or culled
    _, second = signins.start(ws, alice, keep=False)
    with pytest.raises(signins.TooManyPages):
        signins.mint_ticket(ws, second, 2)
    assert signins.mint_ticket(ws, second, 2, alive=lambda page: page["kernel"] != "k-1")  # one has ended
    assert signins.kernel_owner(ws, "k-2") == alice.id
