"""A small loan book in the database with payments, contacts and promises, for the scores tests."""

from __future__ import annotations

from datetime import date, datetime, timezone

from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.loans.payments import post_payment
from support import add_borrower, add_loan

TODAY = date(2024, 6, 30)
AS_OF = date(2024, 3, 15)  # instalments of 102,500 fen fall due 2024-02-01, 03-01, 04-01


def build_book(s) -> dict:
    """L1 pays on time; L2 pays its first instalment late and stops; L3 never pays (a case, a contact, a promise)."""
    b = add_borrower(s)
    loans = {no: add_loan(s, b, no) for no in ("L1", "L2", "L3")}
    s.flush()
    for seq, day in ((1, date(2024, 1, 30)), (2, date(2024, 2, 28))):
        post_payment(s, loan_id=loans["L1"].id, amount_fen=102_500, received_on=day, idempotency_key=f"L1-{seq}",
                     actor="t", today=TODAY)
    post_payment(s, loan_id=loans["L2"].id, amount_fen=102_500, received_on=date(2024, 2, 20),
                 idempotency_key="L2-1", actor="t", today=TODAY)
    case = Case(loan_id=loans["L3"].id, borrower_id=b.id, stage="early", opened_on=date(2024, 2, 2))
    s.add(case)
    s.flush()
    add_contact(s, case, datetime(2024, 3, 1, 2, tzinfo=timezone.utc), "connected")
    add_contact(s, case, datetime(2024, 3, 10, 2, tzinfo=timezone.utc), "no_answer")
    s.add(PromiseToPay(case_id=case.id, loan_id=case.loan_id, borrower_id=b.id, amount_fen=50_000,
                       promised_on=date(2024, 3, 1), due_on=date(2024, 3, 20), status="open"))
    s.flush()
    return {"borrower": b, "case": case, **{no: loan.id for no, loan in loans.items()}}


def add_contact(s, case: Case, at: datetime, outcome: str) -> ContactLog:
    row = ContactLog(case_id=case.id, borrower_id=case.borrower_id, loan_id=case.loan_id, at=at, method="call",
                     party="debtor", purpose="collection", allowed=True, outcome=outcome)
    s.add(row)
    s.flush()
    return row
