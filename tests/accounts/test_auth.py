import pytest

from nocode_widgets.accounts import auth
from nocode_widgets.errors import AuthError
from nocode_widgets.store import Table


def test_password_is_stored_as_argon2id_hash_only(ws):
    auth.sign_up(ws, "alice", "correct horse")
    doc = ws.store.find(Table.USERS)[0]
    assert doc["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in ws.settings.db_path.read_text()


def test_log_in_with_right_password(ws, alice):
    assert auth.log_in(ws, "alice", "password-alice").id == alice.id


def test_log_in_ignores_case_of_username(ws, alice):
    assert auth.log_in(ws, "ALICE", "password-alice").id == alice.id


def test_wrong_password_is_refused(ws, alice):
    with pytest.raises(AuthError, match="Wrong username or password"):
        auth.log_in(ws, "alice", "nope-nope-nope")


def test_unknown_user_gets_the_same_message(ws):
    with pytest.raises(AuthError, match="Wrong username or password"):
        auth.log_in(ws, "nobody", "whatever123")


@pytest.mark.parametrize("name", ["Alice", "ALICE", "ａｌｉｃｅ"])  # fullwidth folds to alice under NFKC
def test_same_name_in_another_case_or_unicode_form_is_taken(ws, alice, name):
    with pytest.raises(AuthError, match="That username is taken"):
        auth.sign_up(ws, name, "password123")


def test_unicode_usernames_are_welcome(ws):
    user = auth.sign_up(ws, "고양이", "password123")
    assert auth.log_in(ws, "고양이", "password123").id == user.id


@pytest.mark.parametrize("name", ["ab", "x" * 33, "has space", "semi;colon", ""])
def test_bad_usernames_are_explained(ws, name):
    with pytest.raises(AuthError, match="username"):
        auth.sign_up(ws, name, "password123")


def test_short_password_is_refused(ws):
    with pytest.raises(AuthError, match="at least 8"):
        auth.sign_up(ws, "carol", "short")


def test_first_account_is_admin_later_ones_are_not(ws, alice, bob):
    assert alice.is_admin and not bob.is_admin


def test_admin_flag_makes_an_admin(ws, alice):
    assert auth.sign_up(ws, "root2", "password123", admin=True).is_admin


def test_lockout_after_five_failures_with_growing_delay(ws, alice):
    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    for _ in range(5):
        with pytest.raises(AuthError, match="Wrong"):
            auth.log_in(ws, "alice", "bad-password", clock=clock)
    with pytest.raises(AuthError, match="locked; try again in 31 seconds"):
        auth.log_in(ws, "alice", "password-alice", clock=clock)  # even the right password waits
    now[0] += 31
    with pytest.raises(AuthError, match="Wrong"):
        auth.log_in(ws, "alice", "bad-password", clock=clock)
    with pytest.raises(AuthError, match="try again in 61 seconds"):
        auth.log_in(ws, "alice", "password-alice", clock=clock)  # the delay doubled
    now[0] += 61
    assert auth.log_in(ws, "alice", "password-alice", clock=clock).id == alice.id
    assert ws.store.get(Table.USERS, alice.id)["failures"] == []


def test_login_rehashes_when_parameters_change(ws, alice):
    from nocode_widgets.workspace import Workspace

    old = ws.store.get(Table.USERS, alice.id)["password_hash"]
    stronger = Workspace(ws.settings.with_changes(argon2_time_cost=2), ws.store)
    auth.log_in(stronger, "alice", "password-alice")
    new = ws.store.get(Table.USERS, alice.id)["password_hash"]
    assert new != old and "t=2" in new


def test_change_password(ws, alice):
    auth.change_password(ws, alice, "password-alice", "new-password")
    with pytest.raises(AuthError):
        auth.log_in(ws, "alice", "password-alice")
    assert auth.log_in(ws, "alice", "new-password").id == alice.id


def test_change_password_needs_the_old_one(ws, alice):
    with pytest.raises(AuthError, match="Wrong"):
        auth.change_password(ws, alice, "not-the-old-one", "new-password")


def test_delete_account_removes_its_data_only(ws, alice, bob):
    for owner in (alice, bob):
        ws.store.insert(Table.DATASETS, {"id": f"d-{owner.id}", "owner": owner.id})
        ws.store.insert(Table.RUNS, {"id": f"r-{owner.id}", "owner": owner.id})
        folder = ws.settings.user_dir(owner.id) / "datasets"
        folder.mkdir(parents=True)
        (folder / "img.jpg").write_bytes(b"x")
    auth.delete_account(ws, bob)
    assert auth.find_user(ws, "bob") is None
    assert ws.store.find(Table.DATASETS, owner=bob.id) == [] and ws.store.find(Table.RUNS, owner=bob.id) == []
    assert not ws.settings.user_dir(bob.id).exists()
    assert ws.store.find(Table.DATASETS, owner=alice.id) and ws.settings.user_dir(alice.id).exists()


def test_deleted_user_session_stops_working(ws, alice, bob):
    auth.delete_account(ws, bob)
    with pytest.raises(AuthError, match="log in again"):
        auth.current_user(ws, bob)


def test_only_admins_delete_other_accounts(ws, alice, bob):
    with pytest.raises(AuthError, match="administrator"):
        auth.delete_account(ws, bob, alice.id)
    auth.delete_account(ws, alice, bob.id)
    assert auth.find_user(ws, "bob") is None


def test_disabled_account_cannot_log_in(ws, alice, bob):
    auth.set_disabled(ws, alice, bob.id, True)
    with pytest.raises(AuthError, match="disabled"):
        auth.log_in(ws, "bob", "password-bob")
    with pytest.raises(AuthError):
        auth.current_user(ws, bob)
