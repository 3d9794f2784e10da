"""End of day against the database (SQLite and PostgreSQL): results stored, penalties posted to the
ledger as deltas, the same date twice gives the same result, catch-up in order, backdated payments
and reversals corrected at the next run, and the delinquency history API."""

from datetime import date, timedelta

import pyarrow.compute as pc
import pytest
from sqlalchemy import func, select
from support import add_late_and_ontime

from arrears.delinquency.service import dates_to_run, run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.tables import EodRun, LoanDelinquency, Transition
from arrears.errors import InvalidInput
from arrears.ledger.service import check_ledger
from arrears.ledger.tables import JournalEntry
from arrears.loans.payments import post_payment, reverse_payment
from arrears.loans.tables import Instalment

TODAY = date(2024, 6, 30)


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        late, ontime = add_late_and_ontime(s, (date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 30)), TODAY)
        s.commit()
        return {"db": db, "store": SnapshotStore(tmp_path / "snapshots"), "late": late.id, "ontime": ontime.id}


def _state(book, loan_id):
    with book["db"].session() as s:
        return s.get(LoanDelinquency, loan_id)


def _run(book, day):
    return run_date(book["db"].factory, book["store"], day, today=TODAY)


def test_a_run_stores_state_transitions_and_balanced_penalties(book):
    summary = _run(book, date(2024, 3, 10))
    late, ontime = _state(book, book["late"]), _state(book, book["ontime"])
    assert (late.dpd, late.bucket) == (38, "M2") and late.penalty_due_fen > 0
    assert (ontime.dpd, ontime.fully_paid) == (0, False)
    assert summary.loans == 2 and summary.transitions["became_overdue"] == 1
    with book["db"].session() as s:
        assert check_ledger(s).ok
        stored = s.scalar(select(func.sum(Instalment.penalty_due_fen)).where(Instalment.loan_id == book["late"]))
        assert stored == late.penalty_due_fen
        kinds = s.scalars(select(Transition.kind).where(Transition.loan_id == book["late"])).all()
        assert kinds == ["became_overdue", "bucket_up", "class_changed"]


def test_the_same_date_twice_gives_the_same_result_and_posts_nothing_more(book):
    day = date(2024, 3, 10)
    _run(book, day)
    first = book["store"].read(day)
    with book["db"].session() as s:
        entries = s.scalar(select(func.count()).select_from(JournalEntry))
    _run(book, day)
    assert book["store"].read(day).equals(first)
    with book["db"].session() as s:
        assert s.scalar(select(func.count()).select_from(JournalEntry)) == entries
        assert s.scalar(select(func.count()).select_from(EodRun)) == 1
        assert s.scalar(select(func.count()).select_from(Transition)) == 3


def test_catch_up_runs_every_missed_date_in_order(book):
    _run(book, date(2024, 3, 1))
    dates = dates_to_run(book["db"].factory, date(2024, 3, 5))
    assert dates == [date(2024, 3, d) for d in range(2, 6)]
    for day in dates:
        _run(book, day)
    history = book["store"].history(book["late"], [date(2024, 3, d) for d in range(1, 6)])
    assert history.column("dpd").to_pylist() == [29, 30, 31, 32, 33]
    assert pc.all(pc.less_equal(history.column("penalty_due_fen").slice(0, 4),
                                history.column("penalty_due_fen").slice(1, 4))).as_py()


def test_a_backdated_payment_is_corrected_at_the_next_run(book):
    _run(book, date(2024, 3, 10))
    assert _state(book, book["late"]).dpd == 38
    with book["db"].session() as s:  # the borrower had paid on 2024-02-20; the bank books it only now
        post_payment(s, loan_id=book["late"], amount_fen=110_000, received_on=date(2024, 2, 20),
                     idempotency_key="late-1", actor="t", today=TODAY)
        s.commit()
    _run(book, date(2024, 3, 11))
    # Instalment 1 is settled (as of 02-20), so the oldest unpaid is instalment 2, due 03-01: 10 days.
    assert _state(book, book["late"]).dpd == 10
    with book["db"].session() as s:
        assert check_ledger(s).ok
        first = s.scalar(select(Instalment).where(Instalment.loan_id == book["late"], Instalment.seq == 1))
        # Its penalty, recomputed for 19 late days (950 + 24 compound), is below what the payment already
        # settled: the floor keeps the amount stored on 03-10 and paid (principal 100,000 × 18% × 38/360 = 1,900
        # plus compound 2,500 × 18% × 38/360 = 47.5 → 48) rather than taking it back.
        assert first.penalty_due_fen == first.penalty_paid_fen == 1_948


def test_a_reversal_restores_the_overdue_state(book):
    with book["db"].session() as s:
        paid = post_payment(s, loan_id=book["late"], amount_fen=102_500, received_on=date(2024, 2, 1),
                            idempotency_key="p1", actor="t", today=TODAY)
        s.commit()
    _run(book, date(2024, 2, 20))
    assert _state(book, book["late"]).dpd == 0
    with book["db"].session() as s:
        reverse_payment(s, payment_id=paid.payment_id, reason="bounced", actor="t", today=TODAY)
        s.commit()
    _run(book, date(2024, 2, 21))
    assert _state(book, book["late"]).dpd == 20
    with book["db"].session() as s:
        assert check_ledger(s).ok


def test_a_future_business_date_is_refused(book):
    with pytest.raises(InvalidInput) as exc:
        _run(book, TODAY + timedelta(days=1))
    assert exc.value.rule == "eod.date_not_future"


def test_a_run_whose_files_fail_commits_nothing(book, monkeypatch):
    """The files are written beside the database write; the date counts only once both are done, so a failed
    file write (a full disk) leaves the database as before and the date can be run again."""
    day = date(2024, 3, 10)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SnapshotStore, "write_run", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _run(book, day)
    with book["db"].session() as s:
        assert s.scalar(select(func.count()).select_from(EodRun)) == 0
        assert s.scalar(select(func.count()).select_from(LoanDelinquency)) == 0
        assert s.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == "penalty")) == 0
        assert s.scalar(select(func.sum(Instalment.penalty_due_fen))) == 0
    monkeypatch.undo()
    _run(book, day)
    assert _state(book, book["late"]).dpd == 38
    assert book["store"].read(day).num_rows == 2
