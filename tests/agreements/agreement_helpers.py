"""Shared set-up for the agreement tests: an overdue loan after an end of day, a plan restating its debt,
an agreement signed with the code from the outbox, officers."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select
from support import CIPHER, add_borrower, add_loan

from arrears.agreements import service, signing
from arrears.agreements.execution import outstanding
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.service import run_date
from arrears.loans.tables import Instalment
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment

TODAY = date(2027, 12, 31)  # the engine refuses dates after "today"; the stories run in 2024
PLAN_DATE = date(2024, 3, 11)
PREPARER, CHECKER = "negotiator1", "supervisor1"


def overdue_loan(s, store, factory, no: str = "L1", borrower_no: str = "B1", **kw):
    """The support loan (3 × 1,025.00 yuan due 2024-02-01 … 04-01), nothing paid, end of day run on PLAN_DATE."""
    b = add_borrower(s, borrower_no, phone="13812345678", **kw)
    loan = add_loan(s, b, no)
    s.commit()
    run_date(factory, store, PLAN_DATE, today=TODAY)
    return b.id, loan.id


def debt_of(s, loan_id: int) -> Amounts:
    return outstanding(list(s.scalars(select(Instalment).where(Instalment.loan_id == loan_id))))


def split(total: Amounts, n: int) -> list[Amounts]:
    """``total`` in ``n`` parts per component, the remainder on the last part."""
    parts = []
    for k in range(n):
        parts.append(Amounts(**{c: getattr(total, c) // n + (getattr(total, c) % n if k == n - 1 else 0)
                                for c in COMPONENTS}))
    return parts


def make_plan(debt: Amounts, loan_id: int, *, n: int = 6, as_of: date = PLAN_DATE, waive_penalty: bool = True,
              added_interest: int = 0, first_due: date | None = None, conditional: bool = True) -> Plan:
    waiver = Amounts(penalty=debt.penalty) if waive_penalty else Amounts()
    added = Amounts(interest=added_interest)
    to_pay = Amounts(**{c: getattr(debt, c) + getattr(added, c) - getattr(waiver, c) for c in COMPONENTS})
    first = first_due or as_of + timedelta(days=30)
    schedule = tuple(PlanInstalment(k + 1, first + timedelta(days=30 * k), a) for k, a in enumerate(split(to_pay, n)))
    return Plan("combination", loan_id, as_of, debt, schedule, waiver=waiver, added=added,
                waiver_conditional=conditional).check()


def last_code(s, agreement_id: int) -> str:
    msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{agreement_id}:code:%"))
                    .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", CIPHER.decrypt(msg.body_enc)).group(0)


def signed_and_countersigned(s, plan: Plan, loan_id: int, borrower_id: int, on: date = PLAN_DATE):
    a = service.create_agreement(s, plan=plan, loan_id=loan_id, prepared_by=PREPARER, cipher=CIPHER)
    signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
    out = signing.borrower_sign(s, agreement_id=a.id, borrower_id=borrower_id, code=last_code(s, a.id),
                                consent=True, cipher=CIPHER)
    assert out.signed, out
    return service.countersign(s, agreement_id=a.id, officer=CHECKER, business_date=on)
