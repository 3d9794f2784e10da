"""Ledger postings, journal entries and events cannot be updated or deleted through the database."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arrears.audit.service import append_event
from arrears.ledger.service import book_loan
from arrears.loans.model import ScheduledInstalment
from arrears.loans.tables import Borrower


@pytest.mark.parametrize("statement", ["UPDATE events SET actor = 'x'", "DELETE FROM events"])
def test_events_refuse_update_and_delete(db, statement):
    with db.session() as s:
        append_event(s, actor="a", action="x.done", subject_type="thing", subject_id=1)
        s.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            s.execute(text(statement))
        s.rollback()
        assert s.execute(text("SELECT actor FROM events")).scalar_one() == "a"


@pytest.mark.parametrize("table", ["postings", "journal_entries"])
@pytest.mark.parametrize("verb", ["UPDATE {t} SET memo = memo", "DELETE FROM {t}"])
def test_ledger_tables_refuse_update_and_delete(db, table, verb):
    statement = verb.format(t=table).replace("memo = memo", "memo = memo" if table == "journal_entries"
                                             else "account = account")
    with db.session() as s:
        b = Borrower(borrower_no="B1", name_enc=b"x", id_number_enc=b"x", id_number_digest="d", phone_enc=b"x",
                     phone_digest="p")
        s.add(b)
        s.flush()
        book_loan(s, borrower_id=b.id, loan_no="L1", product_code="consumer_loan", method="equal_principal",
                  principal_fen=10_000, annual_rate=Decimal("0.05"), term=1, disbursed_on=date(2026, 1, 1),
                  first_due_on=date(2026, 2, 1), schedule=[ScheduledInstalment(1, date(2026, 2, 1), 10_000, 42)],
                  actor="t")
        s.commit()
        before = s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        with pytest.raises(DBAPIError, match="append-only"):
            s.execute(text(statement))
        s.rollback()
        assert before > 0 and s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == before
