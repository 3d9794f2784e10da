"""Shared fixtures. Service and API tests take ``db`` and run once on SQLite and once on PostgreSQL.

PostgreSQL is the machine's server on 127.0.0.1:5432 (ARREARS_TEST_PG_URL to change); each test
gets its own schema and drops it afterwards, so tests (and xdist workers) never see each other.
If PostgreSQL is not reachable the PostgreSQL tests fail; they are never skipped.
"""

from __future__ import annotations

import decimal
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from arrears.db.engine import make_engine, make_session_factory
from arrears.db.models import metadata

# Mixing a float into Decimal arithmetic raises in every test (decimal.FloatOperation), so a float
# that sneaks into a money path fails loudly instead of rounding silently.
decimal.getcontext().traps[decimal.FloatOperation] = True
decimal.DefaultContext.traps[decimal.FloatOperation] = True

PG_URL = os.environ.get("ARREARS_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    backend: str
    schema: str | None = None

    def session(self) -> Session:
        return self.factory()


def _pg_url_with_schema(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:  # noqa: ANN001
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = make_engine(url)
        metadata.create_all(engine)
        yield Database(url, engine, make_session_factory(engine), "sqlite")
        engine.dispose()
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_url_with_schema(schema)
    engine = make_engine(url)
    metadata.create_all(engine)
    try:
        yield Database(url, engine, make_session_factory(engine), "postgresql", schema)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> str:
    """The PostgreSQL server's URL, for a test whose code makes (and drops) its own schema: a benchmark."""
    return PG_URL


@pytest.fixture
def secret_key() -> bytes:
    return bytes(range(32))
