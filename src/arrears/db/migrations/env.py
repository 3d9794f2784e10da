"""Alembic environment: runs against the connection handed in by arrears.db.migrate."""

from alembic import context

from arrears.db.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through arrears.db.migrate (arrears init), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
