"""The journal watermark on PostgreSQL: ids are handed out at insert and transactions commit in any order, so the
mark must wait for the entries being written below it — else the run's read and the next run both miss them."""

import threading
import time

import pytest
from sqlalchemy import text

from arrears.delinquency.watermark import journal_watermark
from support import add_borrower, add_loan

ENTRY = ("INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at) "
         "VALUES (:loan, :borrower, 'payment', '2026-11-30', 'race', CURRENT_TIMESTAMP) RETURNING id")


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite has one writer at a time: no race
def test_the_mark_waits_for_an_entry_still_being_written_below_it(db):
    with db.session() as s:
        borrower = add_borrower(s)
        loan = add_loan(s, borrower)
        s.commit()
        ids = {"loan": loan.id, "borrower": borrower.id}
    slow, fast = db.engine.connect(), db.engine.connect()
    try:
        slow_tx = slow.begin()
        first = slow.execute(text(ENTRY), ids).scalar_one()  # written, not yet committed
        with fast.begin():
            second = fast.execute(text(ENTRY), ids).scalar_one()  # a higher id, committed first
        assert second > first
        marks: list[int] = []
        reader = threading.Thread(target=lambda: marks.append(_mark(db)))
        reader.start()
        time.sleep(0.5)
        assert marks == []  # waiting for the slow writer, not reporting `second` over an unseen `first`
        slow_tx.commit()
        reader.join(10)
        assert marks and marks[0] >= second
        with db.session() as s:  # every entry up to the mark is there for the read that follows
            seen = s.execute(text("SELECT id FROM journal_entries WHERE id <= :w"), {"w": marks[0]}).scalars().all()
        assert {first, second} <= set(seen)
    finally:
        slow.close()
        fast.close()


def _mark(db) -> int:
    with db.session() as s:
        mark = journal_watermark(s)
        s.commit()
        return mark


def test_the_mark_is_the_highest_id_once_nothing_is_being_written(db):
    with db.session() as s:
        borrower = add_borrower(s)
        loan = add_loan(s, borrower)
        s.commit()
        before = journal_watermark(s)
        new = s.execute(text(ENTRY), {"loan": loan.id, "borrower": borrower.id}).scalar_one()
        s.commit()
        assert journal_watermark(s) == new > before
        s.commit()
