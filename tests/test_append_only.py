"""Ledger postings, journal entries and events cannot be updated or deleted through the database."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arrears.audit.service import append_event
from support import add_borrower, add_loan


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
        add_loan(s, add_borrower(s))
        s.commit()
        before = s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        with pytest.raises(DBAPIError, match="append-only"):
            s.execute(text(statement))
        s.rollback()
        assert before > 0 and s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == before
