"""The 24-month repayment status string, set-based in DuckDB, and its pure-Python reference (the test oracle).

One character per month, oldest on the left, the report month on the right. A month's character comes from
that month's last completed end-of-day snapshot (``month_end_dates``) and the account's events:

    correction from an answered objection  → that code
    before the month the loan was opened   → not_open  (/)
    written off or transferred that month or before → ended_other (G)
    no snapshot row for that month         → unknown   (#)
    fully paid                             → settled   (C)
    dpd 0 before the first due date        → nothing_due (*)
    dpd 0                                  → normal    (N)
    dpd d > 0                              → min(max_digit, (d − 1) // step + 1)   (1–30 → 1 … >180 → 7)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from arrears.credit.policy import CreditPolicy

MONTHS = 24


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def window(report_month: date) -> list[date]:
    """The first days of the 24 months ending with ``report_month``, oldest first."""
    first = report_month.replace(day=1)
    return [add_months(first, k - MONTHS + 1) for k in range(MONTHS)]


def status_case(policy: CreditPolicy) -> str:
    """The SQL CASE giving one month's character. Columns: month, opened_month, first_due_month,
    closed_month, corrected, has_snap, dpd, fully_paid."""
    sc = policy.status_codes
    q = lambda c: "'" + c.replace("'", "''") + "'"  # noqa: E731
    return f"""CASE
        WHEN corrected IS NOT NULL THEN corrected
        WHEN month < opened_month THEN {q(sc.not_open)}
        WHEN closed_month IS NOT NULL AND month >= closed_month THEN {q(sc.ended_other)}
        WHEN NOT has_snap THEN {q(sc.unknown)}
        WHEN fully_paid THEN {q(sc.settled)}
        WHEN dpd <= 0 AND month < first_due_month THEN {q(sc.nothing_due)}
        WHEN dpd <= 0 THEN {q(sc.normal)}
        ELSE CAST(least({sc.overdue_max_digit}, (dpd - 1) // {sc.overdue_step_days} + 1) AS VARCHAR)
    END"""


def status_strings(con: duckdb.DuckDBPyConnection, policy: CreditPolicy, *, months: str, accounts: str,
                   snaps: str, corrections: str) -> duckdb.DuckDBPyRelation:
    """(loan_id, status_24, current_code) for every row of ``accounts``.

    ``months``: (idx 0–23, month DATE); ``accounts``: (loan_id, opened_month, first_due_month, closed_month);
    ``snaps``: (loan_id, month, dpd, fully_paid) — one row per loan and month at most;
    ``corrections``: (loan_id, month, code). Names are relations registered on ``con``."""
    return con.sql(f"""
        WITH grid AS (
            SELECT a.loan_id, m.idx, m.month, a.opened_month, a.first_due_month, a.closed_month,
                   c.code AS corrected, s.loan_id IS NOT NULL AS has_snap, s.dpd, s.fully_paid
            FROM {accounts} a CROSS JOIN {months} m
            LEFT JOIN {snaps} s ON s.loan_id = a.loan_id AND s.month = m.month
            LEFT JOIN {corrections} c ON c.loan_id = a.loan_id AND c.month = m.month),
        coded AS (SELECT loan_id, idx, {status_case(policy)} AS code FROM grid)
        SELECT loan_id, string_agg(code, '' ORDER BY idx) AS status_24,
               arg_max(code, idx) AS current_code
        FROM coded GROUP BY loan_id""")


# ---- the reference: one account, plain Python ----

@dataclass(frozen=True)
class MonthState:
    """What the snapshot of one month says (None: no snapshot row that month)."""

    dpd: int
    fully_paid: bool = False


def month_code(policy: CreditPolicy, month: date, *, opened_on: date, first_due_on: date,
               closed_on: date | None, state: MonthState | None, corrected: str | None = None) -> str:
    sc = policy.status_codes
    if corrected is not None:
        return corrected
    if month < opened_on.replace(day=1):
        return sc.not_open
    if closed_on is not None and month >= closed_on.replace(day=1):
        return sc.ended_other
    if state is None:
        return sc.unknown
    if state.fully_paid:
        return sc.settled
    if state.dpd <= 0:
        return sc.nothing_due if month < first_due_on.replace(day=1) else sc.normal
    return str(min(sc.overdue_max_digit, (state.dpd - 1) // sc.overdue_step_days + 1))


def reference_string(policy: CreditPolicy, report_month: date, *, opened_on: date, first_due_on: date,
                     closed_on: date | None, states: dict[date, MonthState],
                     corrections: dict[date, str] | None = None) -> str:
    corrections = corrections or {}
    return "".join(month_code(policy, m, opened_on=opened_on, first_due_on=first_due_on, closed_on=closed_on,
                              state=states.get(m), corrected=corrections.get(m)) for m in window(report_month))
