"""The workbench tests' world (built by conftest.py here): collectors in two teams, a supervisor, a borrower with an
account, open cases (owned, in a task, of another team) with end-of-day states; the hours the page stands at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from arrears.delinquency.tables import LoanDelinquency

NOON = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
LATE = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai: quiet hours
TODAY = date(2026, 3, 10)
PHONE = "13812345678"


@dataclass
class World:
    users: dict[str, int]
    cases: dict[str, int]
    borrowers: dict[str, int]
    loans: dict[str, int]


def _state(s, loan, dpd: int, overdue: int, bucket: str) -> None:
    s.add(LoanDelinquency(loan_id=loan.id, borrower_id=loan.borrower_id, business_date=TODAY,
                          product_code=loan.product_code, dpd=dpd, overdue_principal_fen=overdue,
                          overdue_interest_fen=0, overdue_fee_fen=0, overdue_penalty_fen=0, penalty_due_fen=0,
                          outstanding_principal_fen=overdue, total_outstanding_fen=overdue, bucket=bucket,
                          tier=bucket, m_bucket=bucket, classification="special_mention", in_observation=False,
                          fully_paid=False))

