"""Held credit applied in bulk (end of day) does exactly what the one-loan use case does."""

from datetime import date

from sqlalchemy import select
from support import add_borrower, add_loan

from arrears.ledger.service import check_ledger
from arrears.loans.bulk_credit import apply_credit_bulk
from arrears.loans.payments import apply_credit, post_payment
from arrears.loans.tables import Instalment, Loan, PaymentAllocation

TODAY = date(2024, 6, 30)


def _paid(s, loan_id):
    return s.execute(select(Instalment.seq, Instalment.principal_paid_fen, Instalment.interest_paid_fen)
                     .where(Instalment.loan_id == loan_id).order_by(Instalment.seq)).all()


def test_bulk_credit_application_matches_the_single_loan_use_case(db):
    with db.session() as s:
        b = add_borrower(s)
        bulk, single = add_loan(s, b, "L1"), add_loan(s, b, "L2")
        s.commit()
        for loan in (bulk, single):  # pays instalment 1 and far more: the rest is held as credit
            post_payment(s, loan_id=loan.id, amount_fen=250_000, received_on=date(2024, 1, 20),
                         idempotency_key=f"p{loan.id}", actor="t", today=TODAY)
        s.commit()
        assert s.get(Loan, bulk.id).credit_fen > 0
        apply_credit(s, loan_id=single.id, on=date(2024, 3, 1), actor="t")
        result = apply_credit_bulk(s, date(2024, 3, 1))
        s.commit()
        assert result.loans == 1  # the single loan's due instalments are paid already: only L1 is left
        s.expire_all()  # the bulk path wrote with SQL; drop the session's cached objects
        assert _paid(s, bulk.id) == _paid(s, single.id)
        assert s.get(Loan, bulk.id).credit_fen == s.get(Loan, single.id).credit_fen
        sources = s.scalars(select(PaymentAllocation.source).where(PaymentAllocation.loan_id == bulk.id)).all()
        assert "credit" in sources and check_ledger(s).ok
        again = apply_credit_bulk(s, date(2024, 3, 1))
        assert again.applied_fen == 0  # nothing more is due that credit could pay
