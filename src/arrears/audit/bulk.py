"""Appending one event per row to any subject's hash chain, set-based (the twin of ``service.append_event``).

The canonical JSON body and its SHA-256 are built in DuckDB byte for byte as ``event_hash`` computes them,
chained after each subject's last event, and written with COPY / executemany (``db.bulk.insert_arrow``);
``verify_events`` re-checks them. Used by every batch path that changes many cases, loans or agreements."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.audit.service import GENESIS
from arrears.db.base import utcnow
from arrears.db.bulk import fetch_arrow, insert_arrow


def sql_str(value: str) -> str:
    """``value`` as a quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _q(value: object) -> str:
    return sql_str(json.dumps(value, ensure_ascii=False))


def last_events_sql(subject: str, table: str, cols: str) -> str:
    """``cols`` of ``table`` (a table or a parenthesised query, alias ``s``, with an ``id`` column = subject id),
    each row with its subject's last ``seq`` and ``prev`` hash (0 and the genesis hash for a new chain)."""
    return f"""
    SELECT {cols}, COALESCE(e.seq, 0) AS seq, COALESCE(e.hash, '{GENESIS}') AS prev
    FROM {table} s LEFT JOIN events e ON e.subject_type = '{subject}' AND e.subject_id = CAST(s.id AS VARCHAR(60))
     AND e.seq = (SELECT MAX(x.seq) FROM events x WHERE x.subject_type = '{subject}' AND x.subject_id = e.subject_id)
    ORDER BY s.id"""


def append_events(session: Session, *, subject: str, table: str, cols: str, action: str, actor: str,
                  reason: str, after: str, before: str = "NULL") -> pa.Table:
    """One ``action`` event on each row's ``subject`` chain for every row of ``table`` (see ``last_events_sql``;
    ``cols`` must include ``s.id`` and ``s.borrower_id``). ``after``/``before`` are DuckDB expressions over
    ``cols`` giving canonical JSON (sorted keys, no spaces). Returns the rows read (``cols`` + seq, prev)."""
    rows = fetch_arrow(session, last_events_sql(subject, table, cols))
    if rows.num_rows == 0:
        return rows
    at = utcnow()
    pg = session.connection().dialect.name == "postgresql"
    # Stored as SQLAlchemy would: SQLite keeps naive UTC text, PostgreSQL takes an explicit offset.
    stored_at = at.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if pg else "")
    con = duckdb.connect()
    con.register("r", rows)
    events = con.sql(f"""
        WITH b AS (SELECT *, {before} AS before_j, {after} AS after_j, CAST(seq + 1 AS INTEGER) AS next_seq FROM r)
        SELECT {sql_str(stored_at)} AS occurred_at, {sql_str(actor)} AS actor, {sql_str(action)} AS action,
               {sql_str(subject)} AS subject_type, CAST(id AS VARCHAR) AS subject_id, next_seq AS seq,
               CAST(borrower_id AS BIGINT) AS borrower_id, before_j AS before, after_j AS after,
               {sql_str(reason)} AS reason, prev AS prev_hash,
               sha256('{{"action":' || {_q(action)} || ',"actor":' || {_q(actor)} || ',"after":' || after_j
                      || ',"at":' || {_q(at.isoformat())} || ',"before":' || COALESCE(before_j, 'null')
                      || ',"borrower":' || borrower_id::VARCHAR || ',"prev":"' || prev || '","reason":'
                      || {_q(reason)} || ',"subject":[' || {_q(subject)} || ',"' || id::VARCHAR || '",'
                      || next_seq::VARCHAR || ']}}') AS hash
        FROM b""").to_arrow_table()
    con.close()
    insert_arrow(session, "events", events)
    return rows
