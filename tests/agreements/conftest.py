import pytest

from arrears.delinquency.snapshots import SnapshotStore


@pytest.fixture
def store(tmp_path):
    return SnapshotStore(tmp_path / "snapshots")
