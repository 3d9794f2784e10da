"""Comparing the arms of an experiment from what the runs recorded (``strategy_decisions``): per strategy, the
cases it decided, how many of them were cured (closed as ``cured`` or ``paid`` after entering the arm), the
balance placed (each case's total outstanding when first decided) and the amount collected (posted payments on
the cases' loans from the first decision date on). Rates are given in basis points (integers), money in fen."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

REPORT_SQL = """
    WITH first AS (
        SELECT case_id, loan_id, strategy, role, MIN(business_date) AS since
        FROM strategy_decisions WHERE experiment = :experiment AND business_date BETWEEN :start AND :end
        GROUP BY case_id, loan_id, strategy, role),
    placed AS (
        SELECT f.case_id, d.total_outstanding_fen FROM first f
        JOIN strategy_decisions d ON d.case_id = f.case_id AND d.business_date = f.since)
    SELECT f.strategy, f.role, COUNT(*) AS cases,
           SUM(CASE WHEN c.status = 'closed' AND c.close_reason IN ('cured', 'paid') AND c.closed_on >= f.since
                    THEN 1 ELSE 0 END) AS cured,
           SUM(p.total_outstanding_fen) AS placed_fen,
           SUM(COALESCE((SELECT SUM(y.amount_fen) FROM payments y WHERE y.loan_id = f.loan_id
                         AND y.status = 'posted' AND y.received_on >= f.since AND y.received_on <= :end), 0))
               AS collected_fen
    FROM first f JOIN cases c ON c.id = f.case_id JOIN placed p ON p.case_id = f.case_id
    GROUP BY f.strategy, f.role ORDER BY f.role DESC, f.strategy"""


def compare_arms(session: Session, experiment: str, *, start: date = date(1900, 1, 1),
                 end: date = date(9999, 12, 31)) -> list[dict]:
    """One row per strategy of ``experiment`` decided between ``start`` and ``end``."""
    stmt = text(REPORT_SQL).bindparams(bindparam("start", type_=Date()), bindparam("end", type_=Date()))
    rows = session.execute(stmt, {"experiment": experiment, "start": start, "end": end}).all()
    out = []
    for strategy, role, cases, cured, placed, collected in rows:
        cases, cured, placed, collected = int(cases), int(cured or 0), int(placed or 0), int(collected or 0)
        out.append({"strategy": strategy, "role": role, "cases": cases, "cured": cured,
                    "cure_rate_bp": cured * 10_000 // cases if cases else 0, "placed_fen": placed,
                    "collected_fen": collected,
                    "recovery_rate_bp": collected * 10_000 // placed if placed else 0})
    return out
