"""Fixtures for the web tests: cheap password hashing, the business date, apps and clients over ``db``.

A module fixes the business date with ``pytestmark = pytest.mark.business_date("2026-03-10")``;
without the mark the app's own default applies.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.tables import User
from arrears.privacy import PersonalDataCipher
from arrears.settings import Settings
from arrears.web.app import create_app
from support import PASSWORD, add_borrower, add_small_loan


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "business_date(iso): the ARREARS_BUSINESS_DATE the module's tests run on")


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch, request):
    # Production argon2 costs ~150 ms a hash; these tests are not about hashing cost.
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    mark = request.node.get_closest_marker("business_date")
    if mark is not None:
        monkeypatch.setenv("ARREARS_BUSINESS_DATE", mark.args[0])


class WebClient(TestClient):
    """A TestClient on an app over the test's database, with the ways of signing in."""

    def __init__(self, app, db) -> None:
        super().__init__(app)
        self.db = db

    def sign_in(self, username: str, password: str = PASSWORD):
        """Asks the API for a bearer token."""
        return self.post("/api/v1/auth/token", json={"username": username, "password": password})

    def bearer(self, username: str) -> dict[str, str]:
        """Headers with a token got by signing in over the API."""
        r = self.sign_in(username)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def issued_bearer(self, username: str) -> dict[str, str]:
        """Headers with a fresh token issued by the auth service, without a request."""
        with self.db.session() as s:
            issued = service.issue_token(s, s.query(User).filter_by(username=username).one())
            s.commit()
        return {"Authorization": f"Bearer {issued.token}"}

    def login(self, username: str, password: str = PASSWORD):
        """Signs in through the HTML form (session cookie)."""
        return self.post("/login", data={"username": username, "password": password}, follow_redirects=False)


@pytest.fixture
def make_app(db, tmp_path, secret_key) -> Callable:
    """``make_app(**kw)``: a new app over ``db``; kw go to create_app."""
    def make(**kw):
        return create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key), **kw)
    return make


@pytest.fixture
def make_client(db, make_app) -> Callable[..., WebClient]:
    """``make_client(*staff, **kw)``: creates a user per staff role (username and role alike, password
    PASSWORD) and returns a WebClient on ``make_app(**kw)``, to be entered with ``with``."""
    def make(*staff: str, **kw) -> WebClient:
        if staff:
            with db.session() as s:
                for role in staff:
                    service.create_user(s, username=role, display_name=role, password=PASSWORD, role=role,
                                        actor="setup")
                s.commit()
        return WebClient(make_app(**kw), db)
    return make


@pytest.fixture
def loan_id(db, secret_key) -> int:
    """Loan L1 of borrower B1 (张三): see ``support.add_small_loan``."""
    with db.session() as s:
        loan = add_small_loan(s, add_borrower(s, cipher=PersonalDataCipher(secret_key)))
        s.commit()
        return loan.id
