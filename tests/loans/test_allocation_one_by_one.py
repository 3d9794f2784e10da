"""Every writer of payment allocations sets ``one_by_one`` (whether end of day must see the allocation by itself)
to the rule evaluated from its instalment and loan, so that PostgreSQL can hand end of day only those rows."""

from datetime import date, timedelta

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from support import add_borrower, add_loan, one_by_one_mismatches

from arrears.loans.bulk_credit import apply_credit_bulk
from arrears.loans.bulk_payments import post_payments_bulk
from arrears.loans.one_by_one import one_by_one
from arrears.loans.payments import apply_credit, post_payment
from arrears.loans.tables import PaymentAllocation

TODAY = date(2024, 6, 30)
DAY = date(2024, 3, 1)


@given(st.integers(-40, 40), st.integers(-40, 40), st.sampled_from(["principal", "interest", "fee", "cost",
                                                                     "penalty", "bonus", ""]))
def test_the_flag_is_late_early_or_unknown(after_due, after_disbursed, component):
    value_date = DAY + timedelta(days=after_due)
    disbursed = value_date - timedelta(days=after_disbursed)
    expected = after_due > 0 or after_disbursed < 0 or component in ("bonus", "")
    assert one_by_one(value_date, DAY, disbursed, component) is expected


def test_every_writer_sets_the_flag(db):
    with db.session() as s:
        b = add_borrower(s)
        one, bulk = add_loan(s, b, "L1"), add_loan(s, b, "L2")  # instalments due 02-01, 03-01, 04-01
        s.commit()
        # One loan through the one-payment use cases, the other through the bulk ones: on time, late, credit.
        post_payment(s, loan_id=one.id, amount_fen=50_000, received_on=date(2024, 1, 20), idempotency_key="a",
                     actor="t", today=TODAY)
        post_payment(s, loan_id=one.id, amount_fen=250_000, received_on=date(2024, 2, 20), idempotency_key="b",
                     actor="t", today=TODAY)
        post_payments_bulk(s, pa.table({
            "loan_id": [bulk.id, bulk.id], "amount_fen": [50_000, 250_000],
            "received_on": pa.array([date(2024, 1, 20), date(2024, 2, 20)], pa.date32()),
            "idempotency_key": ["c", "d"], "channel": ["bank_transfer"] * 2, "external_ref": [None, None]}))
        s.commit()
        apply_credit(s, loan_id=one.id, on=date(2024, 4, 5), actor="t")  # pays 04-01 late from held credit
        assert apply_credit_bulk(s, date(2024, 4, 5)).loans == 1
        s.commit()
        sources = set(s.scalars(select(PaymentAllocation.source)))
        flags = set(s.scalars(select(PaymentAllocation.one_by_one)))
        checked, wrong = one_by_one_mismatches(s)
    assert sources == {"payment", "credit"} and flags == {True, False}
    assert checked > 8 and wrong == []


def test_the_migration_fills_the_flag_of_rows_already_written(db):
    """The rule the migration's backfill applies (SQL) is the writers' rule: clear the flags, backfill, compare."""
    import importlib.util
    from pathlib import Path

    import arrears.db

    path = Path(arrears.db.__file__).parent / "migrations/versions/e8a3c1f5b9d2_allocation_one_by_one.py"
    spec = importlib.util.spec_from_file_location("allocation_one_by_one", path)
    backfill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backfill)
    with db.session() as s:
        b = add_borrower(s)
        loan = add_loan(s, b, "L1")
        s.commit()
        for key, when in (("a", date(2024, 1, 20)), ("b", date(2024, 3, 9))):
            post_payment(s, loan_id=loan.id, amount_fen=150_000, received_on=when, idempotency_key=key, actor="t",
                         today=TODAY)
        s.commit()
        before = dict(s.execute(select(PaymentAllocation.id, PaymentAllocation.one_by_one)).all())
        s.execute(text("UPDATE payment_allocations SET one_by_one = NULL"))
        s.execute(text(backfill.BACKFILL))
        after = dict(s.execute(select(PaymentAllocation.id, PaymentAllocation.one_by_one)).all())
        s.rollback()
    assert set(before.values()) == {True, False} and after == before
