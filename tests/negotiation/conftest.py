"""The negotiation tests use this folder's helpers and the web tests' app and client fixtures."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # strategies.py and helpers.py

from web.conftest import _cheap_hashing, make_app, make_client  # noqa: E402,F401  (fixtures, reused)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "business_date(iso): the ARREARS_BUSINESS_DATE the module's tests run on")
