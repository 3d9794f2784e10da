"""The exits API tests use the web tests' app and client fixtures (tests/web/conftest.py)."""

from web.conftest import _cheap_hashing, make_app, make_client, pytest_configure  # noqa: F401
