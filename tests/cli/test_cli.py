import json
import subprocess

from tests.conftest import NOCODE, cli_env


def nocode(tmp_path, *args, password="password123"):
    env = cli_env(tmp_path / "data", NOCODE_PASSWORD=password)
    return subprocess.run([*NOCODE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_user_add_and_list_as_json(tmp_path):
    made = nocode(tmp_path, "user", "add", "alice", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["role"] == "admin"
    nocode(tmp_path, "user", "add", "bob")
    listed = json.loads(nocode(tmp_path, "user", "list", "--json").stdout)
    assert [(u["username"], u["role"]) for u in listed] == [("alice", "admin"), ("bob", "user")]


def test_user_add_admin_flag(tmp_path):
    nocode(tmp_path, "user", "add", "alice")
    out = nocode(tmp_path, "user", "add", "carol", "--admin", "--json")
    assert json.loads(out.stdout)["role"] == "admin"


def test_data_dir_flag_overrides_environment(tmp_path):
    other = tmp_path / "other"
    assert nocode(tmp_path, "user", "add", "alice", "--data-dir", str(other)).returncode == 0
    assert (other / "nocode.json").exists() and not (tmp_path / "data" / "nocode.json").exists()


def test_user_error_is_one_plain_line_exit_1(tmp_path):
    nocode(tmp_path, "user", "add", "alice")
    dup = nocode(tmp_path, "user", "add", "ALICE")
    assert dup.returncode == 1
    assert dup.stderr.strip() == "nocode: That username is taken."


def test_bad_arguments_are_one_line_exit_2(tmp_path):
    for args in (["bogus"], ["user"], ["serve", "--port", "notanumber"]):
        out = nocode(tmp_path, *args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_password_comes_from_environment_and_is_never_printed(tmp_path):
    out = nocode(tmp_path, "user", "add", "alice", "--json", password="a-secret-pw")
    assert "a-secret-pw" not in out.stdout + out.stderr


def test_operator_unlocks_resets_disables_enables_and_deletes_accounts(tmp_path):
    from nocode_widgets.accounts import auth
    from nocode_widgets.errors import AuthError
    from tests.conftest import make_workspace

    nocode(tmp_path, "user", "add", "alice")
    nocode(tmp_path, "user", "add", "bob", password="password-bob")
    ws = make_workspace(tmp_path / "data")
    for _ in range(5):
        try:
            auth.log_in(ws, "bob", "wrong-guess")
        except AuthError:
            pass
    assert json.loads(nocode(tmp_path, "user", "list", "--json").stdout)[1]["locked"] is True
    assert nocode(tmp_path, "user", "unlock", "bob").returncode == 0
    assert auth.log_in(ws, "bob", "password-bob").username == "bob"
    assert nocode(tmp_path, "user", "passwd", "bob", password="fresh-password").returncode == 0
    assert auth.log_in(ws, "bob", "fresh-password").username == "bob"
    assert nocode(tmp_path, "user", "disable", "bob").returncode == 0
    assert auth.find_user(ws, "bob").disabled
    assert nocode(tmp_path, "user", "enable", "bob").returncode == 0
    assert not auth.find_user(ws, "bob").disabled
    assert nocode(tmp_path, "user", "delete", "bob").returncode == 0
    assert auth.find_user(ws, "bob") is None
    missing = nocode(tmp_path, "user", "unlock", "nobody")
    assert missing.returncode == 1 and "no user called" in missing.stderr


def test_global_options_work_before_or_after_the_sub_command(tmp_path):
    data = str(tmp_path / "elsewhere")
    env = cli_env(tmp_path / "unused", NOCODE_PASSWORD="password123")
    run = lambda *args: subprocess.run([*NOCODE, *args], env=env, capture_output=True, text=True, timeout=120)  # noqa: E731
    assert run("--data-dir", data, "user", "add", "zed").returncode == 0
    before = json.loads(run("--json", "--data-dir", data, "user", "list").stdout)
    after = json.loads(run("user", "list", "--data-dir", data, "--json").stdout)
    mixed = json.loads(run("--data-dir", data, "user", "list", "--json").stdout)
    assert [u["username"] for u in before] == [u["username"] for u in after] == [u["username"] for u in mixed] == ["zed"]
    assert not (tmp_path / "unused" / "nocode.json").exists()
