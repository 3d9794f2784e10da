import pytest
from web.conftest import _cheap_hashing, make_app, make_client  # noqa: F401  (fixtures for the API stories)

from arrears.delinquency.snapshots import SnapshotStore


@pytest.fixture
def store(tmp_path):
    return SnapshotStore(tmp_path / "snapshots")
