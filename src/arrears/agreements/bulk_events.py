"""Appending one event per row to any subject's chain, set-based (the twin of ``audit.service.append_event``).

Generalises ``cases.service._bulk_events`` (which is fixed to cases): the canonical JSON body and its SHA-256
are built in DuckDB byte for byte as ``event_hash`` computes them, chained after each subject's last event,
and written with COPY / executemany; ``verify_events`` re-checks them."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.audit.service import GENESIS
from arrears.db.base import utcnow
from arrears.db.bulk import fetch_arrow, insert_arrow


def _q(value: object) -> str:
    return "'" + json.dumps(value, ensure_ascii=False).replace("'", "''") + "'"


def last_events_sql(subject: str, ids_table: str, cols: str) -> str:
    """``cols`` of ``ids_table`` (alias s, with an ``id`` column) with each subject's last seq and hash."""
    return f"""
    SELECT {cols}, COALESCE(e.seq, 0) AS seq, COALESCE(e.hash, '{GENESIS}') AS prev
    FROM {ids_table} s LEFT JOIN events e ON e.subject_type = '{subject}' AND e.subject_id = CAST(s.id AS VARCHAR(60))
     AND e.seq = (SELECT MAX(x.seq) FROM events x WHERE x.subject_type = '{subject}' AND x.subject_id = e.subject_id)
    ORDER BY s.id"""


def append_events(session: Session, *, subject: str, ids_table: str, cols: str, action: str, actor: str,
                  reason: str, after: str, before: str = "NULL") -> int:
    """One ``action`` event per row of ``ids_table``; ``after``/``before`` are DuckDB expressions over ``cols``
    giving canonical JSON (sorted keys, no spaces)."""
    rows: pa.Table = fetch_arrow(session, last_events_sql(subject, ids_table, cols))
    if rows.num_rows == 0:
        return 0
    at = utcnow()
    pg = session.connection().dialect.name == "postgresql"
    stored_at = at.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if pg else "")
    con = duckdb.connect()
    con.register("r", rows)
    events = con.sql(f"""
        WITH b AS (SELECT *, {before} AS before_j, {after} AS after_j, CAST(seq + 1 AS INTEGER) AS next_seq FROM r)
        SELECT '{stored_at}' AS occurred_at, '{actor.replace("'", "''")}' AS actor,
               '{action}' AS action, '{subject}' AS subject_type, CAST(id AS VARCHAR) AS subject_id,
               next_seq AS seq, CAST(borrower_id AS BIGINT) AS borrower_id, before_j AS before, after_j AS after,
               '{reason.replace("'", "''")}' AS reason, prev AS prev_hash,
               sha256('{{"action":' || {_q(action)} || ',"actor":' || {_q(actor)} || ',"after":' || after_j
                      || ',"at":' || {_q(at.isoformat())} || ',"before":' || COALESCE(before_j, 'null')
                      || ',"borrower":' || borrower_id::VARCHAR || ',"prev":"' || prev || '","reason":'
                      || {_q(reason)} || ',"subject":["{subject}","' || id::VARCHAR || '",'
                      || next_seq::VARCHAR || ']}}') AS hash
        FROM b""").to_arrow_table()
    con.close()
    return insert_arrow(session, "events", events)
