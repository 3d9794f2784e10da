"""A loan's debt as a plan's starting point: outstanding per component, days past due, periods left."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.delinquency.tables import LoanDelinquency
from arrears.errors import InvalidInput, NotFound
from arrears.loans.tables import Instalment, Loan
from arrears.negotiation.plan import COMPONENTS, Amounts
from arrears.negotiation.terms import DebtContext, baseline_payment
from arrears.products.catalog import catalog


def load_context(session: Session, loan_id: int, as_of: date) -> DebtContext:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    rows = session.scalars(select(Instalment).where(Instalment.loan_id == loan_id)).all()
    owed = {c: 0 for c in COMPONENTS}
    remaining, oldest_unpaid = 0, None
    for i in rows:
        left = 0
        for c in COMPONENTS:
            part = getattr(i, f"{c}_due_fen") - getattr(i, f"{c}_paid_fen") - getattr(i, f"{c}_waived_fen")
            owed[c] += part
            left += part
        if left > 0 and i.due_on > as_of:
            remaining += 1
        if left > 0 and i.due_on < as_of and (oldest_unpaid is None or i.due_on < oldest_unpaid):
            oldest_unpaid = i.due_on
    debt = Amounts(**owed)
    if debt.total <= 0:
        raise InvalidInput(f"loan {loan_id} has nothing outstanding to negotiate", field="loan_id",
                           rule="negotiation.nothing_owed")
    state = session.get(LoanDelinquency, loan_id)
    dpd = state.dpd if state is not None else ((as_of - oldest_unpaid).days if oldest_unpaid else 0)
    cat = catalog()
    return DebtContext(loan_id=loan.id, as_of=as_of, debt=debt, contract_rate=loan.annual_rate,
                       product=cat.product(loan.product_code), legal=cat.legal, remaining_periods=remaining,
                       dpd=dpd, baseline_payment_fen=baseline_payment(debt, remaining))
