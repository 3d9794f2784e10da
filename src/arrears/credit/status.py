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


def _q(code: str) -> str:
    return "'" + code.replace("'", "''") + "'"


# Each snapshot row as a 4-bit class: 1 settled, 2 nothing overdue, 2 + d for overdue digit d (d ≤ 9); 0 = no row.
SETTLED, CURRENT = 1, 2
BITS = 4


def month_case(policy: CreditPolicy, month: date, k: int) -> str:
    """The SQL CASE giving month ``k``'s character from ``x{k}`` (that month's 4-bit class, 0 without a snapshot
    row) and ``c{k}`` (a correction), and the account's opened / first-due / closed months."""
    sc, m = policy.status_codes, f"DATE '{month.isoformat()}'"
    return f"""CASE
        WHEN c{k} IS NOT NULL THEN c{k}
        WHEN {m} < opened_month THEN {_q(sc.not_open)}
        WHEN closed_month IS NOT NULL AND {m} >= closed_month THEN {_q(sc.ended_other)}
        WHEN x{k} = 0 THEN {_q(sc.unknown)}
        WHEN x{k} = {SETTLED} THEN {_q(sc.settled)}
        WHEN x{k} = {CURRENT} AND {m} < first_due_month THEN {_q(sc.nothing_due)}
        WHEN x{k} = {CURRENT} THEN {_q(sc.normal)}
        ELSE CAST(x{k} - {CURRENT} AS VARCHAR)
    END"""


def _q(code: str) -> str:
    return "'" + code.replace("'", "''") + "'"


def status_strings(con: duckdb.DuckDBPyConnection, policy: CreditPolicy, *, months: str, accounts: str,
                   snaps: str, corrections: str) -> duckdb.DuckDBPyRelation:
    """(loan_id, status_24, current_code) for every row of ``accounts``.

    ``months``: (idx 0–23, month DATE); ``accounts``: (loan_id, opened_month, first_due_month, closed_month);
    ``snaps``: (loan_id, month, dpd, fully_paid) — one row per loan and month at most;
    ``corrections``: (loan_id, month, code). Names are relations registered on ``con``.

    Why this shape: a loan × month grid with a sorted string_agg was most of month-end's time. Here each
    snapshot row becomes a 4-bit class shifted to its month's place in a 128-bit integer, so one plain SUM per
    loan holds all 24 months; each month's character is then a CASE over its 4 bits."""
    sc = policy.status_codes
    dates = [d for _, d in con.sql(f"SELECT idx, month FROM {months} ORDER BY idx").fetchall()]
    index = lambda col: f"date_diff('month', DATE '{dates[0].isoformat()}', {col})"  # noqa: E731
    cls = (f"CASE WHEN fully_paid THEN {SETTLED} WHEN dpd <= 0 THEN {CURRENT} ELSE {CURRENT} + "
           f"least({sc.overdue_max_digit}, (dpd - 1) // {sc.overdue_step_days} + 1) END")
    pivot_c = ", ".join(f"max(code) FILTER (WHERE i = {k}) AS c{k}" for k in range(len(dates)))
    bits = ", ".join(f"CAST((coalesce(v.h, 0) >> {BITS * k}) & 15 AS INTEGER) AS x{k}" for k in range(len(dates)))
    chars = [month_case(policy, d, k) for k, d in enumerate(dates)]
    return con.sql(f"""
        WITH v AS (SELECT loan_id, sum(CAST({cls} AS HUGEINT) << ({BITS} * i)) AS h
                   FROM (SELECT loan_id, dpd, fully_paid, {index('month')} AS i FROM {snaps}
                         WHERE month BETWEEN DATE '{dates[0]}' AND DATE '{dates[-1]}') GROUP BY loan_id),
             c AS (SELECT loan_id, {pivot_c} FROM (SELECT loan_id, code, {index('month')} AS i
                                                   FROM {corrections}) GROUP BY loan_id),
             g AS (SELECT a.*, c.* EXCLUDE (loan_id), {bits}
                   FROM {accounts} a LEFT JOIN v USING (loan_id) LEFT JOIN c USING (loan_id))
        SELECT loan_id, concat({', '.join(chars)}) AS status_24, {chars[-1]} AS current_code FROM g""")


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
