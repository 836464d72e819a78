"""A real local Ray cluster for the Ray tests (tests/ray/cluster.py), one for the whole session."""

from __future__ import annotations

import pytest

pytest.importorskip("ray", reason="Ray is installed by scripts/test (the [ray] extra)")

from tests.ray.cluster import local_cluster  # noqa: E402


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """The cluster's address (host:port)."""
    with local_cluster(tmp_path_factory.mktemp("ray") / "ray-start.log") as address:
        yield address
