"""Factories for the case tests: an open case on a small loan of a borrower with contact details."""

from __future__ import annotations

from datetime import date, datetime, timezone

from arrears.cases.tables import Case
from arrears.delinquency.tables import LoanDelinquency
from support import CIPHER, add_borrower, add_small_loan

PHONE, EMAIL, ADDRESS = "13812345678", "zhangsan@example.com", "北京市朝阳区建国路88号"
OPENED = date(2026, 3, 10)
STATE_ON = date(2026, 3, 9)  # the last end of day before OPENED


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def add_case(s, no: str = "1", *, stage: str = "phone", opened_on: date = OPENED, team: str | None = None,
             owner_user_id: int | None = None) -> Case:
    """A borrower B<no> (phone, e-mail, address on file), a small loan L<no> and an open case on it."""
    b = add_borrower(s, f"B{no}", phone=PHONE, email=EMAIL, address=ADDRESS, cipher=CIPHER,
                     id_number=f"1101011990030{int(no):05d}"[:18])
    loan = add_small_loan(s, b, f"L{no}")
    case = Case(loan_id=loan.id, borrower_id=b.id, stage=stage, status="open", opened_on=opened_on,
                next_action="call the borrower", team=team, owner_user_id=owner_user_id)
    s.add(case)
    s.flush()
    return case


def add_state(s, case, dpd=25, principal=50_000, interest=1_200, fee=0, penalty=345) -> LoanDelinquency:
    """The loan's end-of-day state on STATE_ON: ``dpd`` days past due, overdue amounts by component."""
    row = s.get(LoanDelinquency, case.loan_id) or LoanDelinquency(loan_id=case.loan_id)
    values = {"borrower_id": case.borrower_id, "business_date": STATE_ON, "product_code": "consumer_loan",
              "dpd": dpd, "overdue_principal_fen": principal, "overdue_interest_fen": interest,
              "overdue_fee_fen": fee, "overdue_penalty_fen": penalty, "penalty_due_fen": penalty,
              "outstanding_principal_fen": principal, "total_outstanding_fen": principal + interest + fee + penalty,
              "bucket": "M1", "tier": "M1", "m_bucket": "M1", "classification": "special_mention",
              "in_observation": False, "fully_paid": False}
    for k, v in values.items():
        setattr(row, k, v)
    s.add(row)
    s.flush()
    return row
