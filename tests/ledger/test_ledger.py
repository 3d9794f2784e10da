"""Posting, booking loans and proving the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from arrears.audit.tables import Event
from arrears.db.append_only import drop_statements
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.model import Account, EntryKind, credit, debit
from arrears.ledger.service import check_ledger, derived_balances, post_entry
from arrears.ledger.tables import JournalEntry, Posting
from arrears.loans.tables import Borrower, Instalment, Loan
from support import DISBURSED, add_borrower, add_loan, schedule


def test_booking_posts_principal_interest_and_fees_and_the_ledger_proves(db):
    with db.session() as s:
        b = add_borrower(s)
        loan = add_loan(s, b, sched=schedule(fee=100))
        s.commit()
        assert s.scalar(select(func.count()).select_from(Instalment).where(Instalment.loan_id == loan.id)) == 3
        bal = derived_balances(s)[loan.id]
        assert bal[Account.principal_receivable] == 300_000
        assert bal[Account.interest_receivable] == 7_500
        assert bal[Account.fee_receivable] == 300
        assert bal[Account.borrower_credit] == 0
        assert derived_balances(s, [loan.id + 99]) == {} and derived_balances(s, []) == {}
        report = check_ledger(s)
        assert report.ok, report.problems
        assert (report.entries, report.postings) == (3, 6)
        assert report.total_debit_fen == report.total_credit_fen == 307_800
        assert s.scalar(select(Event.action).where(Event.subject_id == str(loan.id))) == "loan.booked"


def test_booking_refuses_duplicates_unknown_borrowers_and_bad_schedules(db):
    with db.session() as s:
        b = add_borrower(s)
        add_loan(s, b)
        s.commit()
        with pytest.raises(Conflict) as exc:
            add_loan(s, b)
        assert (exc.value.field, exc.value.rule) == ("loan_no", "loan_no.unique")
        with pytest.raises(NotFound) as nf:
            add_loan(s, b, no="L2", borrower_id=b.id + 1000)
        assert nf.value.field == "borrower_id"
        with pytest.raises(InvalidInput) as bad:
            add_loan(s, b, no="L3", principal_fen=1)
        assert bad.value.rule == "schedule.principal_sum"
        with pytest.raises(InvalidInput) as prod:
            add_loan(s, b, no="L4", product_code="no_such_product")
        assert prod.value.field == "product_code"
        with pytest.raises(InvalidInput) as rate:
            add_loan(s, b, no="L5", annual_rate=0.12)
        assert rate.value.field == "annual_rate"
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Loan)) == 1


def test_a_booking_rolled_back_leaves_nothing_behind(db):
    # The loan insert runs in a savepoint; on SQLite that must stay nested inside the caller's transaction.
    with db.session() as s:
        add_borrower(s)
        s.commit()
    with db.session() as s:
        b = s.scalar(select(Borrower))
        add_loan(s, b)
        s.rollback()
        assert s.scalar(select(func.count()).select_from(Loan)) == 0
        assert s.scalar(select(func.count()).select_from(Posting)) == 0


def test_post_entry_refuses_unbalanced_empty_and_two_sided_entries(db):
    with db.session() as s:
        loan = add_loan(s, add_borrower(s))
        for legs in ([], [debit(Account.cash_clearing, 100), credit(Account.interest_receivable, 99)]):
            with pytest.raises(InvalidInput) as exc:
                post_entry(s, loan=loan, kind=EntryKind.payment, business_date=DISBURSED, legs=legs)
            assert exc.value.rule == "ledger.balanced"
        with pytest.raises(InvalidInput):
            post_entry(s, loan=loan, kind=EntryKind.payment, business_date=DISBURSED,
                       legs=[debit(Account.cash_clearing, -5), credit(Account.interest_receivable, -5)])


def test_check_fails_when_a_posting_amount_is_altered(db):
    with db.session() as s:
        loan = add_loan(s, add_borrower(s))
        s.commit()
        posting = s.scalar(select(Posting).where(Posting.account == "principal_receivable"))
        for statement in drop_statements(db.backend):  # only by removing the guard can history be edited
            s.execute(text(statement))
        s.execute(text("UPDATE postings SET debit_fen = debit_fen + 1 WHERE id = :id"), {"id": posting.id})
        s.commit()
        report = check_ledger(s)
    assert not report.ok
    text_ = "\n".join(report.problems)
    assert f"entry {posting.entry_id}" in text_ and "300001" in text_ and "300000" in text_
    assert "total debits 307501 fen ≠ total credits 307500 fen" in text_
    assert "loan L1: principal_receivable is 300001 fen in the ledger but instalments' principal outstanding " \
           "is 300000 fen" in text_
    assert loan.loan_no == "L1"


def test_check_fails_when_an_instalment_or_the_credit_balance_is_altered(db):
    with db.session() as s:
        b = add_borrower(s)
        add_loan(s, b)
        add_loan(s, b, no="L2")
        s.commit()
        s.execute(update(Instalment).where(Instalment.seq == 2, Instalment.loan_id == select(Loan.id).where(
            Loan.loan_no == "L2").scalar_subquery()).values(interest_paid_fen=7))
        s.execute(update(Loan).where(Loan.loan_no == "L1").values(credit_fen=5))
        s.commit()
        report = check_ledger(s)
    assert sorted(report.problems) == [
        "loan L1: borrower_credit is 0 fen in the ledger but loans.credit_fen is 5 fen",
        "loan L2: interest_receivable is 7500 fen in the ledger but instalments' interest outstanding is 7493 fen",
    ]


def test_check_reports_an_entry_without_postings_and_an_empty_book_is_ok(db):
    with db.session() as s:
        assert check_ledger(s).ok
        loan = add_loan(s, add_borrower(s))
        s.add(JournalEntry(loan_id=loan.id, borrower_id=loan.borrower_id, kind="fee", business_date=DISBURSED))
        s.commit()
        assert [p for p in check_ledger(s).problems if "has no postings" in p]


def test_check_over_many_loans_reports_only_the_broken_one(db):
    with db.session() as s:
        b = add_borrower(s)
        for k in range(40):
            add_loan(s, b, no=f"M{k:03d}", sched=schedule(n=2, principal=10_000 + k))
        s.commit()
        assert check_ledger(s).ok
        s.execute(update(Instalment).where(Instalment.seq == 1, Instalment.loan_id == select(Loan.id).where(
            Loan.loan_no == "M017").scalar_subquery()).values(principal_waived_fen=1))
        s.commit()
        problems = check_ledger(s).problems
    assert len(problems) == 1 and problems[0].startswith("loan M017: principal_receivable")
