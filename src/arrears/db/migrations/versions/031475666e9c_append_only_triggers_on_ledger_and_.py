"""append-only triggers on ledger and events

Revision ID: 031475666e9c
Revises: 24a4745f775d
Create Date: 2026-11-23 16:21:21.392132
"""
from alembic import op
from arrears.db.append_only import APPEND_ONLY, postgresql_ddl, sqlite_ddl


revision = '031475666e9c'
down_revision = '24a4745f775d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in (sqlite_ddl(table) if dialect == "sqlite" else postgresql_ddl(table)):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_delete")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
