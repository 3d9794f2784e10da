"""Factories for the case tests: an open case on a small loan of a borrower with contact details."""

from __future__ import annotations

from datetime import date, datetime, timezone

from arrears.cases.tables import Case
from support import CIPHER, add_borrower, add_small_loan

PHONE, EMAIL, ADDRESS = "13812345678", "zhangsan@example.com", "北京市朝阳区建国路88号"
OPENED = date(2026, 3, 10)


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
