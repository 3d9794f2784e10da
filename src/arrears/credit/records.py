"""Month-end credit records, built set-based in DuckDB from Arrow inputs and the month-end snapshot files.

Pure: no database, no clock. ``monthend.py`` reads the inputs from the database and writes the file;
the benchmark feeds generated inputs. Schemas of the inputs are below (``*_SCHEMA``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from arrears.credit.policy import SPECIAL_KINDS, CreditPolicy
from arrears.credit.status import add_months, status_strings, window

FEN = pa.int64()
LOANS_SCHEMA = pa.schema([
    ("loan_id", pa.int64()), ("loan_no", pa.string()), ("borrower_id", pa.int64()), ("borrower_no", pa.string()),
    ("product_code", pa.string()), ("principal_fen", FEN), ("disbursed_on", pa.date32()),
    ("first_due_on", pa.date32()), ("restructured_on", pa.date32()),
])
# Accounts that left the book by write-off or transfer; balance_fen is what is still reported as owed.
CLOSURES_SCHEMA = pa.schema([
    ("loan_id", pa.int64()), ("closed_on", pa.date32()), ("state", pa.string()), ("balance_fen", FEN),
    ("classification", pa.string()), ("last_recovery_on", pa.date32()),
])
CORRECTIONS_SCHEMA = pa.schema([("loan_id", pa.int64()), ("month", pa.date32()), ("code", pa.string()),
                                ("pending", pa.bool_())])
EVENTS_SCHEMA = pa.schema([
    ("loan_id", pa.int64()), ("kind", pa.string()), ("occurred_on", pa.date32()), ("amount_fen", FEN),
    ("months_changed", pa.int32()), ("detail", pa.string()),
])
DISPUTED_SCHEMA = pa.schema([("loan_id", pa.int64())])

ACCOUNT_COLUMNS = ("record", "report_month", "account_no", "borrower_no", "product_code", "opened_on",
                   "principal_fen", "balance_fen", "overdue_fen", "overdue_principal_fen", "dpd", "classification",
                   "account_state", "status_24", "disputed", "correction")
SPECIAL_COLUMNS = ("record", "report_month", "account_no", "borrower_no", "special_code", "special_kind",
                   "occurred_on", "amount_fen", "months_changed", "detail")
RESTRUCTURE_KINDS = ("extension", "debt_reduction", "personalised_instalment", "deferral")


@dataclass(frozen=True)
class Inputs:
    loans: pa.Table
    closures: pa.Table
    corrections: pa.Table
    events: pa.Table
    disputed: pa.Table
    snapshot_files: dict[date, Path]  # first of month → that month's last complete snapshot file


@dataclass(frozen=True)
class Records:
    accounts: pa.Table  # ACCOUNT_COLUMNS + borrower_id, loan_id (internal, not written)
    specials: pa.Table  # SPECIAL_COLUMNS + borrower_id, loan_id


def _sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def build_records(policy: CreditPolicy, report_month: date, inputs: Inputs, *, threads: int | None = None) -> Records:
    month = report_month.replace(day=1)
    months = window(month)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for name in ("loans", "closures", "corrections", "events", "disputed"):
        con.register(f"in_{name}", getattr(inputs, name))
    con.register("months", pa.table({"idx": pa.array(range(len(months)), pa.int32()),
                                     "month": pa.array(months, pa.date32())}))
    files = [str(inputs.snapshot_files[m]) for m in months if m in inputs.snapshot_files]
    cols = ("loan_id, date_trunc('month', business_date)::DATE AS month, dpd, fully_paid, total_outstanding_fen, "
            "overdue_principal_fen, overdue_interest_fen, overdue_fee_fen, overdue_penalty_fen, classification")
    if files:
        con.execute(f"CREATE TEMP VIEW snaps AS SELECT {cols} FROM read_parquet({files!r}, hive_partitioning = false)")
    else:
        con.execute("CREATE TEMP TABLE snaps (loan_id BIGINT, month DATE, dpd INTEGER, fully_paid BOOLEAN, "
                    "total_outstanding_fen BIGINT, overdue_principal_fen BIGINT, overdue_interest_fen BIGINT, "
                    "overdue_fee_fen BIGINT, overdue_penalty_fen BIGINT, classification VARCHAR)")
    m, prev, nxt = (f"DATE '{d.isoformat()}'" for d in (month, add_months(month, -1), add_months(month, 1)))
    restructure = ", ".join(_sql(k) for k in RESTRUCTURE_KINDS)
    default_kind = _sql(policy.special_transactions.restructured_default)
    con.execute(f"""CREATE TEMP TABLE ev AS
        SELECT loan_id, kind, occurred_on, amount_fen, months_changed, detail FROM in_events
        WHERE occurred_on >= {m} AND occurred_on < {nxt}
        UNION ALL  -- the hook for restructured loans without a more precise event (docs/credit-reporting.md)
        SELECT l.loan_id, {default_kind}, l.restructured_on, 0, 0, 'loans.restructured_on' FROM in_loans l
        WHERE l.restructured_on >= {m} AND l.restructured_on < {nxt}
          AND NOT EXISTS (SELECT 1 FROM in_events e WHERE e.loan_id = l.loan_id AND e.kind IN ({restructure})
                          AND e.occurred_on >= {m} AND e.occurred_on < {nxt})""")
    con.execute(f"CREATE TEMP TABLE cur AS SELECT * FROM snaps WHERE month = {m}")
    con.execute(f"""CREATE TEMP TABLE sel AS
        SELECT c.loan_id FROM cur c LEFT JOIN (SELECT loan_id, fully_paid FROM snaps WHERE month = {prev}) p
          ON p.loan_id = c.loan_id
        WHERE NOT (c.fully_paid AND coalesce(p.fully_paid, FALSE))   -- a settled account is reported once
        UNION SELECT loan_id FROM in_closures
          WHERE (closed_on >= {m} AND closed_on < {nxt}) OR (last_recovery_on >= {m} AND last_recovery_on < {nxt})
        UNION SELECT loan_id FROM in_corrections WHERE pending
        UNION SELECT loan_id FROM ev""")
    con.execute(f"""CREATE TEMP TABLE acc AS
        SELECT l.loan_id, date_trunc('month', l.disbursed_on)::DATE AS opened_month,
               date_trunc('month', l.first_due_on)::DATE AS first_due_month,
               date_trunc('month', cl.closed_on)::DATE AS closed_month
        FROM sel JOIN in_loans l USING (loan_id) LEFT JOIN in_closures cl USING (loan_id)
        WHERE l.disbursed_on < {nxt}""")
    # Every snapshot row is aggregated (the loans not reported are few): cheaper than a semi-join first.
    strings = status_strings(con, policy, months="months", accounts="acc", snaps="snaps",
                             corrections="in_corrections")
    con.execute(f"CREATE TEMP TABLE st AS {strings.sql_query()}")
    label = _sql(month.strftime("%Y-%m"))
    accounts = con.sql(f"""
        SELECT 'A' AS record, {label} AS report_month, l.loan_no AS account_no, l.borrower_no, l.product_code,
               strftime(l.disbursed_on, '%Y-%m-%d') AS opened_on, l.principal_fen,
               CAST(CASE WHEN cl.loan_id IS NOT NULL THEN cl.balance_fen ELSE coalesce(c.total_outstanding_fen, 0)
                    END AS BIGINT) AS balance_fen,
               CAST(CASE WHEN cl.loan_id IS NOT NULL THEN 0 ELSE coalesce(c.overdue_principal_fen
                    + c.overdue_interest_fen + c.overdue_fee_fen + c.overdue_penalty_fen, 0) END AS BIGINT) AS overdue_fen,
               CAST(CASE WHEN cl.loan_id IS NOT NULL THEN 0 ELSE coalesce(c.overdue_principal_fen, 0) END AS BIGINT)
                    AS overdue_principal_fen,
               CAST(CASE WHEN cl.loan_id IS NOT NULL THEN 0 ELSE coalesce(c.dpd, 0) END AS INTEGER) AS dpd,
               coalesce(cl.classification, c.classification, '') AS classification,
               CASE WHEN cl.loan_id IS NOT NULL THEN cl.state WHEN c.fully_paid THEN 'settled'
                    WHEN c.dpd > 0 THEN 'overdue' WHEN c.loan_id IS NULL THEN 'unknown' ELSE 'normal' END
                    AS account_state,
               st.status_24, d.loan_id IS NOT NULL AS disputed,
               EXISTS (SELECT 1 FROM in_corrections k WHERE k.loan_id = l.loan_id AND k.pending) AS correction,
               st.current_code, l.borrower_id, l.loan_id
        FROM acc a JOIN in_loans l USING (loan_id) JOIN st USING (loan_id)
        LEFT JOIN cur c USING (loan_id) LEFT JOIN in_closures cl USING (loan_id)
        LEFT JOIN (SELECT DISTINCT loan_id FROM in_disputed) d USING (loan_id)
        ORDER BY l.loan_no""").to_arrow_table()
    codes = ", ".join(f"({_sql(k)}, {_sql(policy.special_code(k))})" for k in SPECIAL_KINDS)
    specials = con.sql(f"""
        SELECT 'S' AS record, {label} AS report_month, l.loan_no AS account_no, l.borrower_no,
               k.code AS special_code, e.kind AS special_kind, strftime(e.occurred_on, '%Y-%m-%d') AS occurred_on,
               CAST(e.amount_fen AS BIGINT) AS amount_fen, CAST(e.months_changed AS INTEGER) AS months_changed,
               coalesce(e.detail, '') AS detail, l.borrower_id, l.loan_id
        FROM ev e JOIN in_loans l USING (loan_id) JOIN (VALUES {codes}) k(kind, code) ON k.kind = e.kind
        WHERE l.disbursed_on < {nxt}
        ORDER BY l.loan_no, e.occurred_on, e.kind""").to_arrow_table()
    con.close()
    return Records(accounts, specials)
