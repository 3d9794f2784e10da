"""The web tests' app and client fixtures, for the queue API tests."""

from web.conftest import _cheap_hashing, make_app, make_client  # noqa: F401
