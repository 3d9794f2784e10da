"""Property: executing any valid Plan keeps the ledger proven, the loan's principal rule intact, and the new
instalments equal the plan's schedule to the fen (penalty carried in the fee component); a breach after it
keeps the ledger proven and owes exactly the conditional waiver again."""

from datetime import date, timedelta

from agreement_helpers import CHECKER, PREPARER, debt_of, last_code
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support import CIPHER, add_borrower, add_loan

from arrears.agreements import service, signing
from arrears.agreements.eod import agreements_after_eod
from arrears.agreements.tables import Agreement
from arrears.db.engine import unit_of_work
from arrears.ledger.model import EntryKind, charge_legs
from arrears.ledger.service import check_ledger, post_entry
from arrears.loans.payments import post_payment
from arrears.loans.tables import Instalment, Loan
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment
from arrears.products.model import Component

AS_OF = date(2024, 3, 11)


def _book(s, n: int, penalty: int, paid: int) -> Loan:
    b = add_borrower(s, f"B{n}")
    loan = add_loan(s, b, f"L{n}")
    if penalty:  # what an end of day would have accrued on the first instalment
        first = s.scalar(select(Instalment).where(Instalment.loan_id == loan.id, Instalment.seq == 1))
        first.penalty_due_fen = penalty
        post_entry(s, loan=loan, kind=EntryKind.penalty, business_date=AS_OF,
                   legs=charge_legs(Component.penalty, penalty))
    if paid:
        post_payment(s, loan_id=loan.id, amount_fen=paid, received_on=AS_OF - timedelta(days=5),
                     idempotency_key=f"pay-{n}", actor="t", today=AS_OF)
    s.flush()
    return loan


@st.composite
def plans(draw):
    penalty = draw(st.integers(0, 50_000))
    paid = draw(st.integers(0, 250_000))
    n = draw(st.integers(1, 24))
    waive = {c: draw(st.integers(0, 100)) for c in COMPONENTS}  # percent of each component waived
    added = draw(st.integers(0, 30_000))
    cuts = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))  # relative instalment sizes
    gaps = draw(st.lists(st.integers(1, 45), min_size=n, max_size=n))
    return penalty, paid, waive, added, cuts, gaps, draw(st.booleans())


def _plan(loan_id: int, debt: Amounts, waive, added_interest, cuts, gaps, conditional) -> Plan:
    waiver = Amounts(**{c: getattr(debt, c) * waive[c] // 100 for c in COMPONENTS})
    added = Amounts(interest=added_interest)
    to_pay = {c: getattr(debt, c) + getattr(added, c) - getattr(waiver, c) for c in COMPONENTS}
    weights = [w + 1 for w in cuts]
    parts = [{c: to_pay[c] * w // sum(weights) for c in COMPONENTS} for w in weights]
    for c in COMPONENTS:  # the rounding remainder on the last instalment
        parts[-1][c] += to_pay[c] - sum(p[c] for p in parts)
    due, schedule = AS_OF, []
    for k, (p, gap) in enumerate(zip(parts, gaps), start=1):
        due += timedelta(days=gap)
        schedule.append(PlanInstalment(k, due, Amounts(**p)))
    return Plan("combination", loan_id, AS_OF, debt, tuple(schedule), waiver=waiver, added=added,
                waiver_conditional=conditional).check()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=plans())
def test_executing_any_valid_plan_keeps_the_ledger_and_matches_the_schedule(db, case):
    penalty, paid, waive, added, cuts, gaps, conditional = case
    with unit_of_work(db.factory) as s:
        number = len(s.scalars(select(Loan.id)).all()) + 1
        loan = _book(s, number, penalty, paid)
        plan = _plan(loan.id, debt_of(s, loan.id), waive, added, cuts, gaps, conditional)
        a = service.create_agreement(s, plan=plan, loan_id=loan.id, prepared_by=PREPARER, cipher=CIPHER)
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=loan.borrower_id, code=last_code(s, a.id),
                                     consent=True, cipher=CIPHER).signed
        a = service.countersign(s, agreement_id=a.id, officer=CHECKER, business_date=AS_OF)
    with db.session() as s:
        report = check_ledger(s)
        assert report.ok, report.problems
        rows = list(s.scalars(select(Instalment).where(Instalment.loan_id == loan.id).order_by(Instalment.seq)))
        assert sum(r.principal_due_fen for r in rows) == 300_000
        new = [r for r in rows if a.seq_from <= r.seq <= a.seq_to]
        assert len(new) == len(plan.schedule) and rows[-1].seq == a.seq_to
        for r, i in zip(new, plan.schedule):
            assert r.due_on == i.due_on
            assert (r.principal_due_fen, r.interest_due_fen, r.fee_due_fen, r.cost_due_fen) == (
                i.amounts.principal, i.amounts.interest, i.amounts.fee + i.amounts.penalty, i.amounts.cost)
        owed = sum(getattr(r, f"{c}_due_fen") - getattr(r, f"{c}_paid_fen") - getattr(r, f"{c}_waived_fen")
                   for r in rows for c in COMPONENTS)
        assert owed == plan.total_to_pay  # exactly what the plan says is left to pay
    # Nothing is paid: long after the last due date the agreement is breached (or, if nothing was left to pay,
    # completed), and reinstating the waiver keeps the ledger proven and owes exactly the waiver again.
    with unit_of_work(db.factory) as s:
        agreements_after_eod(s, plan.schedule[-1].due_on + timedelta(days=400))
    with db.session() as s:
        a = s.get(Agreement, a.id)
        assert a.status == ("breached" if plan.total_to_pay > 0 else "completed")
        report = check_ledger(s)
        assert report.ok, report.problems
        rows = list(s.scalars(select(Instalment).where(Instalment.loan_id == loan.id)))
        owed_after = sum(getattr(r, f"{c}_due_fen") - getattr(r, f"{c}_paid_fen") - getattr(r, f"{c}_waived_fen")
                         for r in rows for c in COMPONENTS)
        reinstated = plan.waived if (a.status == "breached" and conditional) else 0
        assert owed_after == owed + reinstated
