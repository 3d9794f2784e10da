"""Bulk look-ups against the database for imports: which keys exist, their ids; timestamps."""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.base import utcnow
from arrears.db.bulk import insert_arrow

def _distinct(values: pa.ChunkedArray | pa.Array) -> list[str]:
    return sorted({v.strip() for v in values.to_pylist() if v and v.strip()})


def ids_by_key(session: Session, table: str, key: str, values: pa.ChunkedArray | pa.Array,
               extra: str = "") -> pa.Table:
    """(value, id[, extra]) for every value of ``key`` present in ``table``, by a join against a
    temporary table of the wanted keys (one bulk insert, one query, whatever the number of keys)."""
    keys = _distinct(values)
    pg = session.connection().dialect.name == "postgresql"
    session.execute(text("DROP TABLE IF EXISTS wanted_keys"))
    session.execute(text("CREATE TEMP TABLE wanted_keys (value TEXT PRIMARY KEY)" + (" ON COMMIT DROP" if pg else "")))
    insert_arrow(session, "wanted_keys", pa.table({"value": pa.array(keys, pa.string())}))
    cols = f"t.{key}, t.id" + (f", t.{extra}" if extra else "")
    found = session.execute(text(f"SELECT {cols} FROM {table} t JOIN wanted_keys w ON w.value = t.{key}")).all()
    session.execute(text("DROP TABLE wanted_keys"))
    columns = list(zip(*found)) if found else [[], []] + ([[]] if extra else [])
    data = {"value": pa.array(columns[0], pa.string()), "id": pa.array(columns[1], pa.int64())}
    if extra:
        data[extra] = pa.array(columns[2])
    return pa.table(data)


def existing_values(session: Session, table: str, key: str, values: pa.ChunkedArray | pa.Array) -> pa.Table:
    return ids_by_key(session, table, key, values).select(["value"])


def timestamp_column(session: Session, rows: int) -> pa.Array:
    """created_at for bulk rows, in the form each backend's DateTime column reads back."""
    now = utcnow()
    if session.connection().dialect.name == "sqlite":
        value = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    else:
        value = now.isoformat()
    return pa.array([value] * rows, pa.string())
