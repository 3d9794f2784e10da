"""``arrears bench legal``: month-end credit records for N accounts from 24 generated month-end snapshots.

The snapshots and the loan book are generated set-based in DuckDB (Parquet files shaped exactly like the
end-of-day snapshots); ``credit_records_s`` times ``build_records`` plus writing the JSON Lines file —
what month-end does after reading the book. Generation and the database are timed apart (not in the figure).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from arrears.bench.common import peak_rss_bytes, stopwatch
from arrears.credit.fileformat import write_file
from arrears.credit.policy import credit_policy
from arrears.credit.records import (CLOSURES_SCHEMA, CORRECTIONS_SCHEMA, DISPUTED_SCHEMA, EVENTS_SCHEMA,
                                    LOANS_SCHEMA, Inputs, build_records)
from arrears.credit.status import add_months, window
from arrears.delinquency.model import conform

REPORT = date(2026, 10, 1)


def _loans(con: duckdb.DuckDBPyConnection, n: int) -> pa.Table:
    # Opened over the 30 months before the report month; 1 % restructured during the report month.
    return conform(con.sql(f"""
        SELECT i AS loan_id, 'L' || lpad(CAST(i AS VARCHAR), 9, '0') AS loan_no, i AS borrower_id,
               'B' || lpad(CAST(i AS VARCHAR), 9, '0') AS borrower_no, 'consumer_loan' AS product_code,
               CAST(1000000 + (i % 97) * 10000 AS BIGINT) AS principal_fen,
               (DATE '{add_months(REPORT, -30)}' + CAST(hash(i) % 900 AS INTEGER)) AS disbursed_on,
               (DATE '{add_months(REPORT, -30)}' + CAST(hash(i) % 900 AS INTEGER) + 30) AS first_due_on,
               CASE WHEN i % 100 = 7 THEN DATE '{REPORT}' + CAST(i % 28 AS INTEGER) END AS restructured_on
        FROM range({n}) t(i)""").to_arrow_table(), LOANS_SCHEMA)


def _snapshots(con: duckdb.DuckDBPyConnection, root: Path) -> dict[date, Path]:
    """One month-end snapshot per month: 15 % of loans fall behind from a month of their own and stay
    behind (30 days more each month); 3 % pay off early. Only loans open by the month end appear."""
    files = {}
    for month in window(REPORT):
        end = add_months(month, 1)
        path = root / f"business_date={month}" / "snapshot.parquet"
        path.parent.mkdir(parents=True)
        idx = (month.year * 12 + month.month) - (REPORT.year * 12 + REPORT.month) + 23
        con.execute(f"""COPY (
            WITH base AS (
                SELECT l.loan_id, l.borrower_id, l.principal_fen,
                       CASE WHEN hash(l.loan_id, 1) % 100 < 15 AND {idx} >= hash(l.loan_id, 2) % 24
                            THEN CAST(({idx} - hash(l.loan_id, 2) % 24) * 30 + 1 + hash(l.loan_id, 3) % 29 AS INTEGER)
                            ELSE 0 END AS dpd,
                       hash(l.loan_id, 4) % 100 < 3 AND {idx} >= 12 + hash(l.loan_id, 5) % 12 AS fully_paid
                FROM bench_loans l WHERE l.disbursed_on < DATE '{end}')
            SELECT CAST(DATE '{end}' - 1 AS DATE) AS business_date, loan_id, borrower_id,
                   'consumer_loan' AS product_code, CASE WHEN fully_paid THEN 0 ELSE dpd END AS dpd,
                   CAST(CASE WHEN dpd > 0 AND NOT fully_paid THEN principal_fen // 12 ELSE 0 END AS BIGINT)
                       AS overdue_principal_fen,
                   CAST(CASE WHEN dpd > 0 AND NOT fully_paid THEN principal_fen // 100 ELSE 0 END AS BIGINT)
                       AS overdue_interest_fen,
                   CAST(0 AS BIGINT) AS overdue_fee_fen, CAST(dpd * 10 AS BIGINT) AS overdue_penalty_fen,
                   CAST(dpd * 10 AS BIGINT) AS penalty_due_fen,
                   CAST(CASE WHEN fully_paid THEN 0 ELSE principal_fen // 2 END AS BIGINT) AS outstanding_principal_fen,
                   CAST(CASE WHEN fully_paid THEN 0 ELSE principal_fen // 2 + dpd * 10 END AS BIGINT)
                       AS total_outstanding_fen,
                   'M' || CAST(least(7, (dpd + 29) // 30) AS VARCHAR) AS bucket, 'x' AS tier,
                   'M' || CAST(least(7, (dpd + 29) // 30) AS VARCHAR) AS m_bucket,
                   CASE WHEN dpd = 0 THEN 'normal' WHEN dpd <= 90 THEN 'special_mention' WHEN dpd <= 270
                        THEN 'substandard' WHEN dpd <= 360 THEN 'doubtful' ELSE 'loss' END AS classification,
                   FALSE AS in_observation, fully_paid
            FROM base ORDER BY loan_id) TO '{path}' (FORMAT PARQUET, COMPRESSION zstd, ROW_GROUP_SIZE 100000)""")
        files[month] = path
    return files


def run_credit_bench(accounts: int, *, keep_file: bool = False) -> dict:
    figures: dict = {"credit_accounts": accounts}
    root = Path(tempfile.mkdtemp(prefix="arrears-credit-bench-"))
    try:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        with stopwatch(figures, "generate_s"):
            loans = _loans(con, accounts)
            con.register("bench_loans", loans)
            files = _snapshots(con, root / "snapshots")
        con.close()
        empty = {s: s.empty_table() for s in (CLOSURES_SCHEMA, CORRECTIONS_SCHEMA, EVENTS_SCHEMA, DISPUTED_SCHEMA)}
        inputs = Inputs(loans=loans, closures=empty[CLOSURES_SCHEMA], corrections=empty[CORRECTIONS_SCHEMA],
                        events=empty[EVENTS_SCHEMA], disputed=empty[DISPUTED_SCHEMA], snapshot_files=files)
        policy = credit_policy()
        start = time.perf_counter()
        records = build_records(policy, REPORT, inputs)
        figures["build_s"] = round(time.perf_counter() - start, 3)
        out = root / f"credit-{REPORT:%Y-%m}.jsonl"
        write_file(out, policy, REPORT, records.accounts, records.specials, datetime.now(timezone.utc))
        figures["credit_records_s"] = round(time.perf_counter() - start, 3)
        figures["account_records"] = records.accounts.num_rows
        figures["special_records"] = records.specials.num_rows
        figures["file_bytes"] = out.stat().st_size
        figures["peak_rss_bytes"] = peak_rss_bytes()
        return figures
    finally:
        if not keep_file:
            shutil.rmtree(root, ignore_errors=True)
