"""API fixtures for the case and complaint tests: an app over ``db`` and signed-in clients per user."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.tables import User
from arrears.settings import Settings
from arrears.web.app import create_app


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", "2026-03-10")


class Api(TestClient):
    def __init__(self, app, db) -> None:
        super().__init__(app)
        self.db = db

    def as_(self, username: str) -> dict[str, str]:
        with self.db.session() as s:
            issued = service.issue_token(s, s.query(User).filter_by(username=username).one())
            s.commit()
        return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def api(db, tmp_path, secret_key):
    with Api(create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key)), db) as client:
        yield client
