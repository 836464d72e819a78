"""Fixtures the training tests share."""

import pytest
import torch

from tests.training.helpers import colour_dataset, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run trained (and exported) once per test module: (ws, alice, dataset, run)."""
    from nocode_widgets import auth
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp("export") / "data")
    alice = auth.sign_up(ws, "alice", "password-alice")
    ds = colour_dataset(ws, alice, per_class=14)
    return ws, alice, ds, train(ws, alice, ds)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch cache of the test's own: for this process and, through TORCH_HOME, for the processes it
    starts (TORCH_HOME is also part of the key of a data folder's device record, so the record is probed again)."""
    old = torch.hub.get_dir()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)
