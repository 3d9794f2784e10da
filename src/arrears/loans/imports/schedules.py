"""A schedules file given with a loans file: each loan's instalments as the institution has them.

Rows are checked one by one (format) and per loan (seq 1..n without gaps, due dates increasing, the
first on the loan's first_due_on, principal summing exactly to the loan's principal). Loans whose
schedule fails are named in ``schedule_bad_loans`` so the loans file rejects them too.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from arrears.loans.imports import checks as chk
from arrears.loans.imports.common import settle_errors
from arrears.loans.imports.files import ROW, read_table

SCHEDULE_COLUMNS = ["loan_no", "seq", "due_on", "principal", "interest"]


def attach_given_schedules(con: duckdb.DuckDBPyConnection, path: Path, skip_invalid: bool) -> pa.Table:
    """Registers the schedules file's good rows as ``given`` and the failing loans as ``schedule_bad_loans``.
    Expects the loans file's parsed view ``parsed`` on ``con``."""
    table = read_table(path)
    chk.require_columns(table, SCHEDULE_COLUMNS, path.name)
    if "fee" not in table.column_names:
        table = table.append_column("fee", pa.array(["0"] * table.num_rows, pa.string()))
    con.register("sched_raw", table)
    con.execute(f"""CREATE VIEW sched AS SELECT s.*, trim(s.loan_no) AS key,
        CASE WHEN regexp_full_match(trim(s.seq), '{chk.INT}') THEN CAST(trim(s.seq) AS INTEGER) END AS seq_n,
        TRY_CAST(trim(s.due_on) AS DATE) AS due, {chk.yuan_fen_sql('s.principal')} AS p_fen, {chk.yuan_fen_sql('s.interest')} AS i_fen,
        {chk.yuan_fen_sql("coalesce(s.fee, '0')")} AS f_fen,
        l.principal_fen AS loan_principal, l.first_due AS loan_first_due
      FROM sched_raw s LEFT JOIN parsed l ON trim(l.loan_no) = trim(s.loan_no)""")
    con.execute("""CREATE VIEW sched_loan AS SELECT key, count(*) AS n, max(seq_n) AS max_seq,
        count(DISTINCT seq_n) AS distinct_seq, sum(p_fen) AS p_sum, any_value(loan_principal) AS loan_principal,
        min(due) FILTER (WHERE seq_n = 1) AS first_due, any_value(loan_first_due) AS loan_first_due,
        bool_and(due > prev_due OR prev_due IS NULL) AS increasing
      FROM (SELECT *, lag(due) OVER (PARTITION BY key ORDER BY seq_n) AS prev_due FROM sched) GROUP BY key""")
    con.execute("""CREATE VIEW src_sched AS SELECT s.*, sl.n, sl.max_seq, sl.distinct_seq, sl.p_sum,
        sl.first_due, sl.increasing FROM sched s JOIN sched_loan sl ON sl.key = s.key""")
    checks = [
        chk.required("loan_no"),
        chk.Check("loan_no", "loan.in_file", "is not a loan in the loans file", "loan_principal IS NULL AND key <> ''"),
        chk.required("seq"), chk.pattern("seq", chk.INT, "must be a whole number"),
        chk.Check("seq", "seq.contiguous", "the loan's instalments must be numbered 1..n without gaps or repeats",
                  "n <> max_seq OR n <> distinct_seq"),
        *chk.date_checks("due_on", "due"),
        chk.Check("due_on", "dates.increasing", "due dates must increase with seq", "NOT coalesce(increasing, true)"),
        chk.Check("due_on", "schedule.first_due", "the first instalment must fall on the loan's first_due_on",
                  "first_due IS NOT NULL AND loan_first_due IS NOT NULL AND first_due <> loan_first_due"),
        chk.required("principal"), chk.pattern("principal", chk.YUAN, "must be yuan with at most two decimals"),
        chk.required("interest"), chk.pattern("interest", chk.YUAN, "must be yuan with at most two decimals"),
        chk.pattern("fee", chk.YUAN, "must be yuan with at most two decimals"),
        chk.Check("principal", "schedule.principal_sum", "the loan's instalment principals do not sum to its principal",
                  "loan_principal IS NOT NULL AND p_sum IS NOT NULL AND p_sum <> loan_principal"),
    ]
    errors = chk.run_checks(con, checks, "src_sched")
    bad, _report = settle_errors("schedules", path, table, errors, skip_invalid, None)
    con.register("sched_bad_rows", pa.table({ROW: pa.array(sorted(bad), pa.int64())}))
    con.execute(f"""CREATE TABLE schedule_bad_loans AS SELECT DISTINCT key AS loan_no FROM sched
                    WHERE {ROW} IN (SELECT {ROW} FROM sched_bad_rows)""")
    return con.sql("""SELECT key AS loan_no, seq_n AS seq, due AS due_on, p_fen AS principal_fen,
                         i_fen AS interest_fen, f_fen AS fee_fen FROM sched
                       WHERE key NOT IN (SELECT loan_no FROM schedule_bad_loans)""").to_arrow_table()

