"""An API client over the test's database for the legal routes: an app, users per role with cheap password
hashing, and bearer tokens issued by the auth service."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.tables import User
from arrears.settings import Settings
from arrears.web.app import create_app


@pytest.fixture
def api(db, tmp_path, secret_key, monkeypatch):
    """``api(*roles)`` → (client, {role: headers}); the business date is 2024-06-03."""
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", "2024-06-03")
    clients = []

    def make(*roles: str):
        headers = {}
        with db.session() as s:
            for role in roles:
                user = s.query(User).filter_by(username=f"api-{role}").one_or_none() or service.create_user(
                    s, username=f"api-{role}", display_name=role, password="correct horse battery", role=role,
                    actor="setup")
                headers[role] = {"Authorization": f"Bearer {service.issue_token(s, user).token}"}
            s.commit()
        client = TestClient(create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key)))
        clients.append(client.__enter__())
        return client, headers

    yield make
    for client in clients:
        client.__exit__(None, None, None)
