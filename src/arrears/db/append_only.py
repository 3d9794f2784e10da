"""Append-only tables: the database itself refuses UPDATE and DELETE on ledger postings, journal
entries and events, so no code path (or careless hand) can rewrite history. A deliberate change by
someone who drops the triggers is still caught by `arrears ledger check` and `arrears audit verify`."""

from __future__ import annotations

from sqlalchemy import DDL, Table, event

APPEND_ONLY = ("postings", "journal_entries", "events")


def sqlite_ddl(table: str) -> list[str]:
    return [f"""CREATE TRIGGER {table}_append_only_{op.lower()} BEFORE {op} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""" for op in ("UPDATE", "DELETE")]


def postgresql_ddl(table: str) -> list[str]:
    return [
        """CREATE OR REPLACE FUNCTION arrears_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END $$""",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION arrears_append_only()""",
    ]


def install(table: Table) -> None:
    """Adds the triggers whenever SQLAlchemy creates the table (tests, create_all)."""
    for statement in sqlite_ddl(table.name):
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))
    for statement in postgresql_ddl(table.name):
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))


def drop_statements(dialect: str) -> list[str]:
    """What a determined administrator would run to rewrite history (used by tamper tests)."""
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}_append_only_{op}" for t in APPEND_ONLY for op in ("update", "delete")]
    return [f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in APPEND_ONLY]
