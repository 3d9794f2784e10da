"""Point-in-time features, set-based in DuckDB over Arrow.

Every feature of a point ``(loan_id, as_of)`` is computed from source rows dated on or before ``as_of`` only:
instalments that fell due, settlements by value date, contacts by day, promises made (and resolved) by then.
Each row carries ``source_max_date``, the latest date of any source row it read, so leakage is checkable
(tests/scores/test_features.py: it is never after ``as_of``, and changing data after ``as_of`` changes nothing).
No borrower record is read: protected attributes and their proxies cannot reach a model.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

from arrears.db.bulk import fetch_arrow

FEN = pa.int64()
SOURCES = {
    "loans": pa.schema([("loan_id", pa.int64()), ("product_code", pa.string()), ("annual_rate", pa.string()),
                        ("principal_fen", FEN), ("term", pa.int32()), ("disbursed_on", pa.date32()),
                        ("restructured_on", pa.date32())]),
    "instalments": pa.schema([("loan_id", pa.int64()), ("seq", pa.int32()), ("due_on", pa.date32()),
                              ("due_fen", FEN)]),
    "settlements": pa.schema([("loan_id", pa.int64()), ("seq", pa.int32()), ("component", pa.string()),
                              ("amount_fen", FEN), ("value_date", pa.date32())]),
    "contacts": pa.schema([("loan_id", pa.int64()), ("on_date", pa.date32()), ("reached", pa.bool_())]),
    "promises": pa.schema([("loan_id", pa.int64()), ("promised_on", pa.date32()), ("due_on", pa.date32()),
                           ("amount_fen", FEN), ("status", pa.string()), ("resolved_on", pa.date32())]),
}
POINTS = pa.schema([("loan_id", pa.int64()), ("as_of", pa.date32())])
REACHED = ("connected", "refused", "promise", "dispute", "hardship")  # compliance.model.Outcome: the borrower answered

# (query, the column naming the loan) — the same columns from either backend, dates as the database stores them.
# A promise resolved after ``until`` is read with its later status; the feature SQL only trusts a resolution
# dated on or before the assessment date.
_SQL = {
    "loans": ("SELECT id AS loan_id, product_code, annual_rate, principal_fen, term, disbursed_on, restructured_on "
              "FROM loans WHERE disbursed_on <= :until", "id"),
    "instalments": ("SELECT loan_id, seq, due_on, principal_due_fen + interest_due_fen + fee_due_fen + "
                    "cost_due_fen AS due_fen FROM instalments WHERE due_on <= :until", "loan_id"),
    "settlements": ("SELECT a.loan_id, i.seq, a.component, a.amount_fen, a.value_date FROM payment_allocations a "
                    "JOIN instalments i ON i.id = a.instalment_id WHERE a.value_date <= :until", "a.loan_id"),
    "contacts": ("SELECT loan_id, at, allowed, outcome FROM contact_log WHERE at < :until_next", "loan_id"),
    "promises": ("SELECT loan_id, promised_on, due_on, amount_fen, status, resolved_on FROM promises_to_pay "
                 "WHERE promised_on <= :until", "loan_id"),
}


def load_sources(session: Session, until: date, loan_ids: list[int] | None = None) -> dict[str, pa.Table]:
    """Source tables from the database, nothing dated after ``until``. ``loan_ids`` narrows to a few loans."""
    params = {"until": until, "until_next": datetime.combine(until + timedelta(days=1), time(), timezone.utc)}
    out = {}
    for name, (sql, column) in _SQL.items():
        if loan_ids is not None:
            sql += f" AND {column} IN ({','.join(str(int(i)) for i in loan_ids) or 'NULL'})"
        out[name] = fetch_arrow(session, sql, params)
    out["contacts"] = _contacts(out["contacts"])
    return {name: _conform(table, SOURCES[name]) for name, table in out.items()}


def _contacts(raw: pa.Table) -> pa.Table:
    if raw.num_rows == 0:
        return SOURCES["contacts"].empty_table()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("raw", raw)
    reached = ", ".join(f"'{o}'" for o in REACHED)
    # A contact's day is its UTC date: the day boundary is the same for every source and every backend.
    return con.sql(f"SELECT loan_id, CAST(CAST(\"at\" AS TIMESTAMPTZ) AS DATE) AS on_date, "
                   f"coalesce(allowed AND outcome IN ({reached}), false) AS reached FROM raw "
                   "WHERE allowed").to_arrow_table()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.num_rows == 0:
        return schema.empty_table()
    return pa.table([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def points_for(loan_ids: pa.Array | list[int], as_of: date) -> pa.Table:
    ids = pa.array(loan_ids, pa.int64())
    return pa.table({"loan_id": ids, "as_of": pa.array([as_of] * len(ids), pa.date32())}, schema=POINTS)


FEATURES_SQL = """
WITH p AS (SELECT DISTINCT loan_id, as_of FROM points),
inst AS (
    SELECT p.loan_id, p.as_of, i.seq, i.due_on, i.due_fen
    FROM p JOIN instalments i ON i.loan_id = p.loan_id AND i.due_on <= p.as_of),
daily AS MATERIALIZED (  -- settlements per instalment and value date; cumulated once (a running total up to a date needs
            -- nothing after it), then each point reads the rows on or before its own date
    SELECT loan_id, seq, value_date, coalesce(sum(amount_fen) FILTER (WHERE component <> 'penalty'), 0) AS amount_fen,
           sum(amount_fen) AS all_fen
    FROM settlements WHERE loan_id IN (SELECT loan_id FROM p) GROUP BY loan_id, seq, value_date),
cum AS (SELECT *, sum(amount_fen) OVER (PARTITION BY loan_id, seq ORDER BY value_date) AS cum_fen FROM daily),
per_inst AS (
    SELECT i.loan_id, i.as_of, i.seq, i.due_on, i.due_fen,
           least(coalesce(max(c.cum_fen), 0), i.due_fen) AS paid_fen,
           min(c.value_date) FILTER (WHERE c.cum_fen >= i.due_fen) AS settled_on
    FROM inst i LEFT JOIN cum c ON c.loan_id = i.loan_id AND c.seq = i.seq AND c.value_date <= i.as_of
    GROUP BY i.loan_id, i.as_of, i.seq, i.due_on, i.due_fen),
lateness AS (SELECT *, date_diff('day', due_on, coalesce(settled_on, as_of)) AS days_late FROM per_inst),
agg AS (
    SELECT loan_id, as_of, count(*) AS n_due, sum(due_fen) AS due_fen, sum(paid_fen) AS paid_fen,
           min(due_on) FILTER (WHERE settled_on IS NULL) AS oldest_unpaid,
           max(days_late) FILTER (WHERE due_on > as_of - INTERVAL 180 DAY) AS max_late_6m,
           count(*) FILTER (WHERE due_on > as_of - INTERVAL 180 DAY AND days_late > 3) AS n_late_6m,
           avg(CASE WHEN days_late <= 3 THEN 1 ELSE 0 END) AS on_time_share,
           max(due_on) AS last_due_on
    FROM lateness GROUP BY loan_id, as_of),
pay AS (
    SELECT p.loan_id, p.as_of, max(d.value_date) AS last_paid_on,
           sum(d.all_fen) FILTER (WHERE d.value_date > p.as_of - INTERVAL 90 DAY) AS paid_90d_fen
    FROM p JOIN daily d ON d.loan_id = p.loan_id AND d.value_date <= p.as_of GROUP BY p.loan_id, p.as_of),
con AS (
    SELECT p.loan_id, p.as_of, count(*) AS contacts_30d, count(*) FILTER (WHERE c.reached) AS reached_30d,
           max(c.on_date) AS last_contact_on
    FROM p JOIN contacts c ON c.loan_id = p.loan_id AND c.on_date <= p.as_of
                           AND c.on_date > p.as_of - INTERVAL 30 DAY GROUP BY p.loan_id, p.as_of),
prom AS (
    SELECT p.loan_id, p.as_of,
           bool_or(r.resolved_on IS NULL OR r.resolved_on > p.as_of) AS open_promise,
           count(*) FILTER (WHERE r.status = 'broken' AND r.resolved_on <= p.as_of
                            AND r.resolved_on > p.as_of - INTERVAL 180 DAY) AS broken_promises_180d,
           max(CASE WHEN r.resolved_on <= p.as_of THEN r.resolved_on ELSE r.promised_on END) AS last_promise_on
    FROM p JOIN promises r ON r.loan_id = p.loan_id AND r.promised_on <= p.as_of
                           AND r.status <> 'cancelled' GROUP BY p.loan_id, p.as_of)
SELECT p.loan_id, p.as_of, l.product_code,
       TRY_CAST(l.annual_rate AS DOUBLE) AS annual_rate, l.term::DOUBLE AS term, l.principal_fen,
       date_diff('day', l.disbursed_on, p.as_of) / 30.4375 AS months_on_book,
       CASE WHEN l.term > 0 THEN greatest(l.term - coalesce(a.n_due, 0), 0) / l.term::DOUBLE END AS remaining_share,
       coalesce(date_diff('day', a.oldest_unpaid, p.as_of), 0)::DOUBLE AS dpd,
       a.max_late_6m::DOUBLE AS max_late_6m, coalesce(a.n_late_6m, 0)::DOUBLE AS n_late_6m,
       a.on_time_share AS on_time_share,
       CASE WHEN a.due_fen > 0 THEN a.paid_fen / a.due_fen::DOUBLE END AS paid_ratio,
       CASE WHEN a.due_fen > 0 THEN (a.due_fen - a.paid_fen) / (a.due_fen / a.n_due::DOUBLE) END AS overdue_to_instalment,
       CASE WHEN a.due_fen > 0 THEN coalesce(y.paid_90d_fen, 0) / (a.due_fen / a.n_due::DOUBLE) END AS paid_90d_ratio,
       date_diff('day', y.last_paid_on, p.as_of)::DOUBLE AS days_since_last_payment,
       coalesce(c.contacts_30d, 0)::DOUBLE AS contacts_30d, coalesce(c.reached_30d, 0)::DOUBLE AS reached_30d,
       CASE WHEN coalesce(r.open_promise, false) THEN 'yes' ELSE 'no' END AS open_promise,
       coalesce(r.broken_promises_180d, 0)::DOUBLE AS broken_promises_180d,
       l.term > coalesce(a.n_due, 0) OR a.oldest_unpaid IS NOT NULL AS active,
       greatest(l.disbursed_on, coalesce(a.last_due_on, l.disbursed_on), coalesce(y.last_paid_on, l.disbursed_on),
                coalesce(c.last_contact_on, l.disbursed_on), coalesce(r.last_promise_on, l.disbursed_on))
           AS source_max_date
FROM p JOIN loans l ON l.loan_id = p.loan_id AND l.disbursed_on <= p.as_of
LEFT JOIN agg a ON a.loan_id = p.loan_id AND a.as_of = p.as_of
LEFT JOIN pay y ON y.loan_id = p.loan_id AND y.as_of = p.as_of
LEFT JOIN con c ON c.loan_id = p.loan_id AND c.as_of = p.as_of
LEFT JOIN prom r ON r.loan_id = p.loan_id AND r.as_of = p.as_of
"""


def connect(sources: dict[str, pa.Table], points: pa.Table | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    for name, table in sources.items():
        con.register(name, table)
    if points is not None:
        con.register("points", points)
    return con


def build_features(sources: dict[str, pa.Table], points: pa.Table) -> pa.Table:
    """One row per point (loans not yet disbursed at ``as_of`` drop out; rows in no particular order), every
    column of the allow-list that is computed from the loan book, plus ``active`` and ``source_max_date``."""
    return connect(sources, points).sql(FEATURES_SQL).to_arrow_table()
