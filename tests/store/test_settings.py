from pathlib import Path

import pytest

from nocode_widgets.config import REPO_ROOT, Settings


def test_defaults_put_data_under_the_checkout():
    assert Settings.from_env(env={}).data_dir == (REPO_ROOT / "data").resolve()


def test_environment_overrides(tmp_path):
    env = {"NOCODE_DATA_DIR": str(tmp_path), "NOCODE_MAX_UPLOAD_BYTES": "1000",
           "NOCODE_IMPORT_ROOTS": f"{tmp_path}/a:{tmp_path}/b", "NOCODE_HEARTBEAT_TIMEOUT_S": "2.5"}
    s = Settings.from_env(env=env)
    assert s.data_dir == tmp_path.resolve() and s.max_upload_bytes == 1000 and s.heartbeat_timeout_s == 2.5
    assert s.import_roots == (tmp_path / "a", tmp_path / "b")


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="NOCODE_MAX_UPLOAD_BYTES"):
        Settings.from_env(env={"NOCODE_MAX_UPLOAD_BYTES": "lots"})


def test_websocket_limit_matches_voila_json():
    import json

    voila = json.loads((REPO_ROOT / "voila.json").read_text())
    size = voila["Voila"]["tornado_settings"]["websocket_max_message_size"]
    assert size == Settings().websocket_max_message_mib * 1024 * 1024
    assert isinstance(Settings().data_dir, Path)
