"""Payment use cases on SQLite and PostgreSQL: idempotency, validation, reversal, credit, locking."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from arrears.audit.tables import Event
from arrears.db.engine import unit_of_work
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.model import Account
from arrears.ledger.service import check_ledger, derived_balances
from arrears.ledger.tables import JournalEntry
from arrears.loans import payments
from arrears.loans.payments import apply_credit, post_payment, reverse_payment
from arrears.loans.tables import Instalment, Loan, Payment, PaymentAllocation
from arrears.products.model import COMPONENTS
from support import DISBURSED, add_borrower, add_loan, schedule

TODAY = date(2024, 6, 30)
# Three monthly instalments of 100,000 principal + 1,000 interest, due 2024-02-01, 03-01, 04-01.
SCHEDULE = schedule(3, principal=300_000, interest=1_000)


def new_loan(s, no: str | None = None) -> Loan:
    no = no or uuid.uuid4().hex[:12]
    return add_loan(s, add_borrower(s, no), no, SCHEDULE)


def pay(s, loan_id: int, amount: int, key: str | None = None, on: date = date(2024, 2, 5), **kw):
    return post_payment(s, loan_id=loan_id, amount_fen=amount, received_on=on,
                        idempotency_key=key or uuid.uuid4().hex, actor="cashier", today=TODAY, **kw)


def columns(s, loan_id: int) -> list[tuple]:
    rows = s.scalars(select(Instalment).where(Instalment.loan_id == loan_id).order_by(Instalment.seq)
                     .execution_options(populate_existing=True))
    return [tuple(getattr(r, f"{c}_paid_fen") for c in COMPONENTS) for r in rows]


def count(s, table) -> int:
    return s.scalar(select(func.count()).select_from(table))


def test_payment_follows_the_waterfall_and_the_ledger_proves(db):
    with db.session() as s:
        loan = new_loan(s, "L1")
        result = pay(s, loan.id, 102_000)
        s.commit()
        assert not result.replayed and result.to_credit_fen == 0
        assert [(x.seq, str(x.component), x.amount_fen) for x in result.allocations] == [
            (1, "interest", 1_000), (1, "principal", 100_000), (2, "interest", 1_000)]
        assert derived_balances(s, [loan.id])[loan.id][Account.principal_receivable] == 200_000
        assert check_ledger(s).ok
        assert s.scalar(select(Event.action).where(Event.subject_id == str(loan.id))
                        .order_by(Event.seq.desc()).limit(1)) == "payment.posted"


def test_same_key_same_body_replays_without_posting_again(db):
    with db.session() as s:
        loan = new_loan(s)
        first = pay(s, loan.id, 5_000, key="k-1")
        s.commit()
        again = pay(s, loan.id, 5_000, key="k-1")
        s.commit()
        assert again.replayed and again.payment_id == first.payment_id
        assert again.allocations == first.allocations
        assert count(s, Payment) == 1 and count(s, PaymentAllocation) == 2
        assert s.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "payment")) == 1
        with pytest.raises(Conflict) as exc:
            pay(s, loan.id, 5_001, key="k-1")
        assert (exc.value.status, exc.value.field, exc.value.rule) == (409, "Idempotency-Key",
                                                                       "idempotency.key_reused")
        with pytest.raises(Conflict):
            pay(s, loan.id, 5_000, key="k-1", external_ref="other")


@pytest.mark.parametrize("amount,on,field,rule", [
    (0, date(2024, 2, 5), "amount_fen", "amount.positive"),
    (-100, date(2024, 2, 5), "amount_fen", "amount.positive"),
    (100, date(2023, 12, 31), "received_on", "received_on.not_before_disbursement"),
    (100, TODAY + timedelta(days=1), "received_on", "received_on.not_in_future"),
])
def test_invalid_payments_are_refused_and_write_nothing(db, amount, on, field, rule):
    with db.session() as s:
        loan = new_loan(s)
        s.commit()
        with pytest.raises(InvalidInput) as exc:
            pay(s, loan.id, amount, on=on)
        assert (exc.value.field, exc.value.rule) == (field, rule)
        with pytest.raises(NotFound) as nf:
            pay(s, loan.id + 999, 100)
        assert nf.value.rule == "loan.exists"
        assert count(s, Payment) == 0


def test_a_payment_rolled_back_by_the_caller_leaves_nothing(db):
    # The payment row is inserted in a savepoint; it must stay nested in the caller's transaction.
    with db.session() as s:
        loan_id = new_loan(s).id
        s.commit()
    with db.session() as s:
        pay(s, loan_id, 50_000)
        s.rollback()
        assert count(s, Payment) == 0 and count(s, PaymentAllocation) == 0 and check_ledger(s).ok


def test_a_loan_that_is_not_active_takes_no_payment(db):
    with db.session() as s:
        loan = new_loan(s)
        loan.status = "written_off"
        s.commit()
        with pytest.raises(Conflict) as exc:
            pay(s, loan.id, 100)
        assert exc.value.rule == "loan.active"


def test_reversal_restores_balances_exactly_and_only_once(db):
    with db.session() as s:
        loan = new_loan(s)
        pay(s, loan.id, 30_000)
        s.commit()
        before = columns(s, loan.id)
        result = pay(s, loan.id, 250_000)  # settles the due and current period, 48,000 to credit
        s.commit()
        assert result.to_credit_fen == 250_000 - (101_000 - 30_000) - 101_000
        reversal = reverse_payment(s, payment_id=result.payment_id, reason="bounced", actor="ops", today=TODAY)
        s.commit()
        assert columns(s, loan.id) == before
        assert reversal.credit_reversed_fen == result.to_credit_fen and reversal.credit_fen == 0
        assert check_ledger(s).ok
        assert s.get(Payment, result.payment_id).status == "reversed"
        with pytest.raises(Conflict) as exc:
            reverse_payment(s, payment_id=result.payment_id, reason="again", actor="ops", today=TODAY)
        assert exc.value.rule == "payment.already_reversed"
        with pytest.raises(NotFound):
            reverse_payment(s, payment_id=10_000, reason="x", actor="ops", today=TODAY)


def test_overpayment_is_held_as_credit_and_applied_when_the_next_instalment_falls_due(db):
    with db.session() as s:
        loan = new_loan(s)
        paid = pay(s, loan.id, 150_000, on=date(2024, 1, 20))  # only seq 1 is payable yet
        s.commit()
        assert paid.to_credit_fen == 49_000 and s.get(Loan, loan.id).credit_fen == 49_000
        assert derived_balances(s, [loan.id])[loan.id][Account.borrower_credit] == 49_000
        nothing = apply_credit(s, loan_id=loan.id, on=date(2024, 2, 15), actor="eod")
        assert nothing.entry_id is None and nothing.credit_fen == 49_000  # seq 2 is not due yet
        applied = apply_credit(s, loan_id=loan.id, on=date(2024, 3, 1), actor="eod")
        s.commit()
        assert applied.applied_fen == 49_000 and applied.credit_fen == 0
        assert [(x.seq, str(x.component), x.amount_fen) for x in applied.lines] == [
            (2, "interest", 1_000), (2, "principal", 48_000)]
        assert check_ledger(s).ok
        with pytest.raises(Conflict) as exc:  # its credit has been spent: cannot be undone blindly
            reverse_payment(s, payment_id=paid.payment_id, reason="bounced", actor="ops", today=TODAY)
        assert exc.value.rule == "reversal.credit_spent"


def test_a_concurrent_insert_of_the_same_key_is_answered_as_replay_or_conflict(db, monkeypatch):
    with db.session() as s:
        loan_id = new_loan(s).id
        s.commit()
    with unit_of_work(db.factory) as other:
        original = pay(other, loan_id, 7_000, key="race")
    real, calls = payments._find_by_key, []

    def lookup(session, key):
        calls.append(key)  # the first lookup of each request misses: the other row was not visible yet
        return None if len(calls) % 2 else real(session, key)

    monkeypatch.setattr(payments, "_find_by_key", lookup)
    with unit_of_work(db.factory) as s:
        replay = pay(s, loan_id, 7_000, key="race")
        assert replay.replayed and replay.payment_id == original.payment_id
        with pytest.raises(Conflict) as exc:
            pay(s, loan_id, 7_001, key="race")
        assert exc.value.rule == "idempotency.key_reused"
        pay(s, loan_id, 3_000, key="after")  # the savepoint rollback left this transaction usable
    assert calls == ["race"] * 4 + ["after"]  # both racing requests took the IntegrityError path
    with db.session() as s:
        assert count(s, Payment) == 2 and check_ledger(s).ok


def test_a_stale_loan_version_is_a_conflict(db, monkeypatch):
    with db.session() as s:
        loan_id = new_loan(s).id
        s.commit()
    real = payments._loan

    def loan_then_someone_else_pays(session, loan_id, **kw):
        loan = real(session, loan_id, **kw)
        monkeypatch.setattr(payments, "_loan", real)
        with unit_of_work(db.factory) as other:
            pay(other, loan_id, 1_000)
        return loan

    monkeypatch.setattr(payments, "_loan", loan_then_someone_else_pays)
    with pytest.raises(Conflict) as exc, unit_of_work(db.factory) as s:
        pay(s, loan_id, 2_000)
    assert (exc.value.field, exc.value.rule) == ("loan_id", "loan.version")
    with db.session() as s:
        assert count(s, Payment) == 1 and check_ledger(s).ok


ops = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 160_000), st.integers(0, 120)),
    st.tuples(st.just("reverse"), st.integers(0, 20), st.just(0))), min_size=1, max_size=8)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_random_payments_and_reversals_keep_the_ledger_proven(db, steps):
    with unit_of_work(db.factory) as s:
        loan_id = new_loan(s).id
    live: list[int] = []
    for op, amount, day in steps:
        with unit_of_work(db.factory) as s:
            if op == "pay":
                live.append(pay(s, loan_id, amount, on=DISBURSED + timedelta(days=day)).payment_id)
            elif live:
                reverse_payment(s, payment_id=live.pop(amount % len(live)), reason="r", actor="ops", today=TODAY)
    with db.session() as s:
        assert check_ledger(s).ok
        paid = s.execute(select(func.sum(sum(getattr(Instalment, f"{c}_paid_fen") for c in COMPONENTS)))
                         .where(Instalment.loan_id == loan_id)).scalar()
        allocated = s.scalar(select(func.coalesce(func.sum(PaymentAllocation.amount_fen), 0))
                             .join(Payment, Payment.id == PaymentAllocation.payment_id)
                             .where(Payment.loan_id == loan_id, Payment.status == "posted"))
        to_credit = s.scalar(select(func.coalesce(func.sum(Payment.to_credit_fen), 0))
                             .where(Payment.loan_id == loan_id, Payment.status == "posted"))
        assert paid == allocated
        assert s.get(Loan, loan_id).credit_fen == to_credit
        assert sorted(s.scalars(select(Payment.id).where(Payment.status == "posted",
                                                         Payment.loan_id == loan_id))) == sorted(live)
