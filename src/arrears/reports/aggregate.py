"""The daily aggregates, set-based in DuckDB from the day's Parquet snapshot, the anchor date's snapshot and two
small reads from the database (open cases' teams, payments since the anchor). Called once per end of day in
its transaction (``aggregate_day``) and by ``arrears reports rebuild`` for the dates already run."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.bulk import insert_arrow
from arrears.delinquency.io import _read as read_table  # COPY … TO STDOUT on PostgreSQL, a cursor on SQLite
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import completed_dates

TEAMS = pa.schema([("loan_id", pa.int64()), ("team", pa.string())])
PAID = pa.schema([("loan_id", pa.int64()), ("paid_fen", pa.int64())])
# The team of the loan's case open at some time in [:a, :d] (one open case per loan at a time).
TEAMS_SQL = """SELECT loan_id, max(coalesce(team, '')) AS team FROM cases
               WHERE opened_on <= :d AND (closed_on IS NULL OR closed_on > :a) GROUP BY loan_id"""
PAID_SQL = """SELECT loan_id, sum(amount_fen) AS paid_fen FROM payments
              WHERE status = 'posted' AND received_on > :a AND received_on <= :d GROUP BY loan_id"""
PORTFOLIO_SQL = """
    SELECT s.business_date, s.product_code, coalesce(t.team, '') AS team, s.m_bucket AS bucket, s.classification,
           count(*)::INTEGER AS loans, sum(s.total_outstanding_fen)::BIGINT AS balance_fen,
           sum(s.overdue_principal_fen + s.overdue_interest_fen + s.overdue_fee_fen + s.overdue_penalty_fen)::BIGINT
               AS overdue_fen
    FROM today s LEFT JOIN teams_today t USING (loan_id)
    WHERE NOT s.fully_paid
    GROUP BY ALL ORDER BY ALL"""
ROLL_SQL = """
    SELECT DATE '{d}' AS business_date, DATE '{a}' AS anchor_date, f.product_code,
           coalesce(t.team, '') AS team, f.m_bucket AS from_bucket,
           CASE WHEN e.loan_id IS NULL THEN 'exited' WHEN e.fully_paid THEN 'paid' ELSE e.m_bucket END AS to_bucket,
           count(*)::INTEGER AS loans, sum(f.total_outstanding_fen)::BIGINT AS from_balance_fen,
           coalesce(sum(e.total_outstanding_fen), 0)::BIGINT AS to_balance_fen,
           coalesce(sum(p.paid_fen), 0)::BIGINT AS recovered_fen
    FROM anchor f LEFT JOIN today e USING (loan_id) LEFT JOIN teams_period t USING (loan_id)
    LEFT JOIN paid p USING (loan_id)
    WHERE NOT f.fully_paid
    GROUP BY ALL ORDER BY ALL"""


def anchor_date(done: list[date], business_date: date) -> date:
    """The last completed date before ``business_date``'s month began, else the month's first completed date
    (or the date itself when it is the first run of all)."""
    month = business_date.replace(day=1)
    before = [d for d in done if d < month]
    if before:
        return before[-1]
    return next((d for d in done if month <= d <= business_date), business_date)


def aggregate_day(session: Session, store: SnapshotStore, business_date: date) -> dict[str, int]:
    """Replaces ``business_date``'s rows of portfolio_daily and roll_rate_daily. The day's snapshot must be
    written (end of day writes it before this call, in the transaction that commits its run)."""
    done = sorted(set(completed_dates(session)) | {business_date})
    anchor = anchor_date(done, business_date)
    con = duckdb.connect()
    con.register("today", store.read(business_date))
    con.register("anchor", store.read(anchor))
    d = {"a": business_date, "d": business_date}
    con.register("teams_today", read_table(session, TEAMS_SQL, TEAMS, d))
    con.register("teams_period", read_table(session, TEAMS_SQL, TEAMS, {"a": anchor, "d": business_date}))
    con.register("paid", read_table(session, PAID_SQL, PAID, {"a": anchor, "d": business_date}))
    portfolio = con.sql(PORTFOLIO_SQL).to_arrow_table()
    roll = con.sql(ROLL_SQL.format(d=business_date.isoformat(), a=anchor.isoformat())).to_arrow_table()
    for table in ("portfolio_daily", "roll_rate_daily"):
        session.execute(text(f"DELETE FROM {table} WHERE business_date = :d"), {"d": business_date})
    insert_arrow(session, "portfolio_daily", portfolio)
    insert_arrow(session, "roll_rate_daily", roll)
    return {"portfolio_rows": portfolio.num_rows, "roll_rows": roll.num_rows}


def rebuild(session: Session, store: SnapshotStore, since: date | None = None) -> dict[str, int]:
    """The aggregates of every completed date (from ``since``) whose snapshot is stored, oldest first."""
    dates = [d for d in completed_dates(session) if (since is None or d >= since) and store.path(d).exists()]
    rows = {"dates": 0, "portfolio_rows": 0, "roll_rows": 0}
    for day in dates:  # one pass per business date, each set-based over that day's loans
        counts = aggregate_day(session, store, day)
        rows["dates"] += 1
        for key, value in counts.items():
            rows[key] += value
    return rows
