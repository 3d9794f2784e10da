"""Cases after end of day (open for overdue loans, idempotent, closed as paid/cured) and working one case
(move_stage, close_case, assign under optimistic locking), with events, on SQLite and PostgreSQL."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.cases.service import assign, close_case, move_stage, sync_cases_after_eod
from arrears.cases.tables import Case
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.errors import Conflict, InvalidInput
from arrears.loans.payments import post_payment
from support import add_borrower, add_loan

TODAY = date(2024, 6, 30)
D1, D2 = date(2024, 3, 10), date(2024, 3, 11)


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        b = add_borrower(s)
        loans = {no: add_loan(s, b, no).id for no in ("L1", "L2", "L3")}  # 3 × 102,500 due 02-01 … 04-01
        s.commit()
        for seq, day in ((1, date(2024, 1, 31)), (2, date(2024, 2, 29))):  # L2 pays on time
            post_payment(s, loan_id=loans["L2"], amount_fen=102_500, received_on=day, idempotency_key=f"ok-{seq}",
                         actor="t", today=TODAY)
        s.commit()
    return {"db": db, "store": SnapshotStore(tmp_path / "snapshots"), **loans}


def _eod_and_sync(book, day):
    """End of day syncs the cases in its own transaction; what it did is in the run's summary."""
    return run_date(book["db"].factory, book["store"], day, today=TODAY).cases


def _cases(book):
    with book["db"].session() as s:
        return {c.loan_id: c for c in s.scalars(select(Case).order_by(Case.id))}


def _events(book, action=None):
    with book["db"].session() as s:
        stmt = select(Event).where(Event.subject_type == "case").order_by(Event.id)
        return [e for e in s.scalars(stmt) if action is None or e.action == action]


def _verify(book):
    with book["db"].session() as s:
        checked, problems = verify_events(s)
    assert problems == [] and checked > 0


def test_cases_open_for_overdue_loans_only_and_a_second_sync_opens_nothing(book):
    assert _eod_and_sync(book, D1) == {"opened": 2, "closed_cured": 0, "closed_paid": 0, "promises_kept": 0, "promises_broken": 0}
    cases = _cases(book)
    assert set(cases) == {book["L1"], book["L3"]}
    case = cases[book["L1"]]
    assert (case.stage, case.status, case.opened_on, case.version) == ("preparation", "open", D1, 1)
    assert (case.next_action, case.next_action_due) == ("confirm overdue facts and plan", D1 + timedelta(days=1))
    with book["db"].session() as s:
        assert sync_cases_after_eod(s, D1) == {"opened": 0, "closed_cured": 0, "closed_paid": 0, "promises_kept": 0, "promises_broken": 0}
        s.commit()
    assert len(_cases(book)) == 2
    opened = _events(book, "case.opened")
    assert len(opened) == 2 and opened[0].after["stage"] == "preparation" and opened[0].seq == 1
    _verify(book)


def test_a_later_run_closes_the_case_as_paid_or_cured(book):
    _eod_and_sync(book, D1)
    with book["db"].session() as s:  # L1 pays everything, L3 only what has fallen due
        post_payment(s, loan_id=book["L1"], amount_fen=400_000, received_on=D1, idempotency_key="all",
                     actor="t", today=TODAY)
        post_payment(s, loan_id=book["L3"], amount_fen=210_000, received_on=D2, idempotency_key="due",
                     actor="t", today=TODAY)
        s.commit()
    assert _eod_and_sync(book, D2) == {"opened": 0, "closed_cured": 1, "closed_paid": 1, "promises_kept": 0, "promises_broken": 0}
    cases = _cases(book)
    assert (cases[book["L1"]].status, cases[book["L1"]].close_reason, cases[book["L1"]].closed_on) == \
        ("closed", "paid", D2)
    assert (cases[book["L3"]].close_reason, cases[book["L3"]].version) == ("cured", 2)
    with book["db"].session() as s:  # idempotent: nothing more closes or opens
        assert sync_cases_after_eod(s, D2) == {"opened": 0, "closed_cured": 0, "closed_paid": 0, "promises_kept": 0, "promises_broken": 0}
        assert sync_cases_after_eod(s, D1) == {"opened": 0, "closed_cured": 0, "closed_paid": 0, "promises_kept": 0, "promises_broken": 0}
        s.commit()
    closed = _events(book, "case.closed")
    assert [e.seq for e in closed] == [2, 2] and {e.after["close_reason"] for e in closed} == {"paid", "cured"}
    _verify(book)


def test_move_stage_follows_the_lifecycle_and_appends_an_event(book):
    _eod_and_sync(book, D1)
    case_id = _cases(book)[book["L1"]].id
    with book["db"].session() as s:
        case = move_stage(s, case_id=case_id, to_stage="reminder", actor="alice", reason="no answer",
                          expected_version=1, today=D2)
        assert (case.stage, case.version, case.next_action_due) == ("reminder", 2, D2 + timedelta(days=1))
        with pytest.raises(InvalidInput) as exc:
            move_stage(s, case_id=case_id, to_stage="enforcement", actor="alice", reason="x", expected_version=2,
                       today=D2)
        assert exc.value.rule == "case.transition" and "reminder → enforcement" in exc.value.detail
        with pytest.raises(InvalidInput) as exc:
            move_stage(s, case_id=case_id, to_stage="jail", actor="alice", reason="x", expected_version=2)
        assert exc.value.rule == "case.stage_known"
        s.commit()
    moved = _events(book, "case.stage_moved")
    assert len(moved) == 1 and moved[0].before["stage"] == "preparation" and moved[0].seq == 2
    _verify(book)


def test_a_stale_version_is_a_conflict(book):
    _eod_and_sync(book, D1)
    case_id = _cases(book)[book["L1"]].id
    with book["db"].session() as s:
        with pytest.raises(Conflict) as exc:
            move_stage(s, case_id=case_id, to_stage="reminder", actor="a", reason="r", expected_version=7, today=D2)
        assert exc.value.rule == "case.version"
    # Two users load version 1; the second write loses at flush.
    with book["db"].session() as first, book["db"].session() as second:
        second.get(Case, case_id)
        move_stage(first, case_id=case_id, to_stage="reminder", actor="a", reason="r", expected_version=1, today=D2)
        first.commit()
        with pytest.raises(Conflict):
            assign(second, case_id=case_id, owner_user_id=None, team="east", actor="b", expected_version=1)


def test_close_and_assign_and_one_open_case_per_loan(book):
    _eod_and_sync(book, D1)
    case = _cases(book)[book["L1"]]
    with book["db"].session() as s:
        assigned = assign(s, case_id=case.id, owner_user_id=None, team="east", actor="lead", expected_version=1)
        assert (assigned.team, assigned.version) == ("east", 2)
        with pytest.raises(InvalidInput) as exc:
            close_case(s, case_id=case.id, close_reason="gave_up", actor="lead", expected_version=2, today=D2)
        assert exc.value.rule == "case.close_reason"
        closed = close_case(s, case_id=case.id, close_reason="settled", actor="lead", expected_version=2, today=D2)
        assert (closed.status, closed.closed_on) == ("closed", D2)
        with pytest.raises(Conflict) as exc:
            move_stage(s, case_id=case.id, to_stage="reminder", actor="a", reason="r", expected_version=3, today=D2)
        assert exc.value.rule == "case.open"
        s.commit()
    with book["db"].session() as s:  # the database refuses a second open case for one loan
        s.add(Case(loan_id=book["L3"], borrower_id=case.borrower_id, stage="preparation", status="open",
                   opened_on=D2, next_action=""))
        with pytest.raises(IntegrityError):
            s.flush()
    with book["db"].session() as s:  # closed by hand the day it opened: a re-sync does not reopen it
        assert sync_cases_after_eod(s, D1)["opened"] == 0
        assert s.scalar(select(func.count()).select_from(Case)) == 2
    assert [e.action for e in _events(book) if e.subject_id == str(case.id)] == \
        ["case.opened", "case.assigned", "case.closed"]
    _verify(book)
