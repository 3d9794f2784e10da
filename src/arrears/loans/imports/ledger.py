"""Booking entries for a batch of new loans, made set-based with INSERT … SELECT.

The same postings ``arrears.ledger.model.charge_legs`` makes for one loan: the principal against
funding (disbursement), the schedule's contractual interest against deferred interest, and any
scheduled fees against fee income — one journal entry each, two postings each.
"""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.base import utcnow
from arrears.db.bulk import insert_arrow
from arrears.ledger.model import CHARGE_OFFSET, RECEIVABLE, EntryKind
from arrears.products.model import Component

# entry kind, component, how the amount is computed per loan (over loans l and its instalment sums s)
_BOOKINGS = (
    (EntryKind.disbursement, Component.principal, "l.principal_fen"),
    (EntryKind.interest, Component.interest, "s.interest"),
    (EntryKind.fee, Component.fee, "s.fee"),
)


def post_booking_entries(session: Session, loan_ids: pa.ChunkedArray | pa.Array, memo: str) -> None:
    connection = session.connection()
    pg = connection.dialect.name == "postgresql"
    session.execute(text("DROP TABLE IF EXISTS booking_batch"))
    session.execute(text("CREATE TEMP TABLE booking_batch (loan_id BIGINT PRIMARY KEY)"
                         + (" ON COMMIT DROP" if pg else "")))
    insert_arrow(session, "booking_batch", pa.table({"loan_id": loan_ids}))
    now = utcnow()
    sums = """(SELECT loan_id, sum(interest_due_fen) AS interest, sum(fee_due_fen) AS fee
               FROM instalments WHERE loan_id IN (SELECT loan_id FROM booking_batch) GROUP BY loan_id)"""
    for kind, component, amount in _BOOKINGS:
        params = {"kind": kind.value, "memo": memo, "now": now, "dr": RECEIVABLE[component].value,
                  "cr": CHARGE_OFFSET[component].value}
        session.execute(text(f"""
            INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
            SELECT l.id, l.borrower_id, :kind, l.disbursed_on, :memo, :now
            FROM loans l JOIN booking_batch b ON b.loan_id = l.id JOIN {sums} s ON s.loan_id = l.id
            WHERE {amount} > 0"""), params)
        for account, side in (("dr", "debit_fen"), ("cr", "credit_fen")):
            other = "credit_fen" if side == "debit_fen" else "debit_fen"
            session.execute(text(f"""
                INSERT INTO postings (entry_id, loan_id, borrower_id, account, {side}, {other})
                SELECT e.id, l.id, l.borrower_id, :{account}, {amount}, 0
                FROM journal_entries e JOIN booking_batch b ON b.loan_id = e.loan_id
                JOIN loans l ON l.id = e.loan_id JOIN {sums} s ON s.loan_id = l.id
                WHERE e.kind = :kind"""), params)
    if not pg:  # PostgreSQL drops it at commit
        session.execute(text("DROP TABLE booking_batch"))
