"""Execution on countersign: ledger balanced, old open instalments replaced by the plan's schedule, the loan
restructured, and the end-of-day engine following the new schedule."""

from datetime import timedelta

from agreement_helpers import (CHECKER, PLAN_DATE, PREPARER, TODAY, debt_of, last_code, make_plan, overdue_loan,
                               signed_and_countersigned)
from sqlalchemy import func, select
from support import CIPHER

from arrears.agreements import service, signing
from arrears.delinquency.service import run_date
from arrears.delinquency.tables import LoanDelinquency
from arrears.ledger.service import check_ledger
from arrears.loans.tables import Instalment, Loan
from arrears.negotiation.plan import COMPONENTS


def test_execution_replaces_the_schedule_and_keeps_the_ledger_proven(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        debt = debt_of(s, lid)
        assert debt.penalty > 0 and debt.principal == 300_000  # the end of day accrued a penalty
        plan = make_plan(debt, lid, added_interest=1_234)
        a = signed_and_countersigned(s, plan, lid, bid)
        s.commit()
        assert a.status == "countersigned" and check_ledger(s).ok
        rows = list(s.scalars(select(Instalment).where(Instalment.loan_id == lid).order_by(Instalment.seq)))
        new = [r for r in rows if a.seq_from <= r.seq <= a.seq_to]
        assert [r.due_on for r in new] == [i.due_on for i in plan.schedule]
        assert sum(r.principal_due_fen for r in rows) == 300_000  # the engine's principal rule still holds
        for r, i in zip(new, plan.schedule):
            assert r.principal_due_fen == i.amounts.principal and r.interest_due_fen == i.amounts.interest
            assert r.fee_due_fen == i.amounts.fee + i.amounts.penalty and r.cost_due_fen == i.amounts.cost
        old = [r for r in rows if r.seq < a.seq_from]
        assert all(getattr(r, f"{c}_due_fen") - getattr(r, f"{c}_paid_fen") - getattr(r, f"{c}_waived_fen") == 0
                   for r in old for c in COMPONENTS)
        assert sum(r.penalty_waived_fen for r in old) == debt.penalty
        loan = s.get(Loan, lid)
        assert loan.restructured and loan.restructured_on == PLAN_DATE
    # The next ends of day: cured, then overdue from the plan's first due date.
    run_date(db.factory, store, PLAN_DATE + timedelta(days=1), today=TODAY)
    with db.session() as s:
        assert s.get(LoanDelinquency, lid).dpd == 0 and check_ledger(s).ok
    first = plan.schedule[0].due_on
    day = first + timedelta(days=8)  # past the product's 3 days of grace, inside the agreement's 10
    run_date(db.factory, store, day, today=TODAY)
    with db.session() as s:
        state = s.get(LoanDelinquency, lid)
        assert state.dpd == (day - first).days
        assert state.overdue_principal_fen == plan.schedule[0].amounts.principal
        assert check_ledger(s).ok


def test_penalty_accrued_between_signing_and_countersigning_is_superseded(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        plan = make_plan(debt_of(s, lid), lid, waive_penalty=False)
        a = service.create_agreement(s, plan=plan, loan_id=lid, prepared_by=PREPARER, cipher=CIPHER)
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=last_code(s, a.id), consent=True,
                                     cipher=CIPHER).signed
        s.commit()
    later = PLAN_DATE + timedelta(days=3)
    run_date(db.factory, store, later, today=TODAY)  # the old schedule keeps accruing penalty meanwhile
    with db.session() as s:
        grown = debt_of(s, lid).penalty - plan.debt.penalty
        assert grown > 0
        a = service.countersign(s, agreement_id=a.id, officer=CHECKER, business_date=later)
        s.commit()
        assert check_ledger(s).ok
        owed = debt_of(s, lid)
        assert owed.total == plan.total_to_pay  # exactly the plan: the later penalty is waived
        waived = s.scalar(select(func.sum(Instalment.penalty_waived_fen)).where(Instalment.loan_id == lid))
        assert waived == grown and a.waiver_entry_id is None  # not the plan's (conditional) waiver
