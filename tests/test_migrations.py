"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from arrears.db.engine import make_engine
from arrears.db.migrate import current_revision, head_revision, upgrade
from arrears.db.models import metadata


def test_migrations_match_the_models(db):
    # The fixture built the schema from the models; rebuild it from the migrations instead.
    engine = make_engine(db.url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f"DROP TABLE {table.name}"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    assert diff == []
