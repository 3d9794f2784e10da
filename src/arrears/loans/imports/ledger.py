"""Booking entries for a batch of new loans, made set-based with INSERT … SELECT.

The same postings ``arrears.ledger.model.charge_legs`` makes for one loan: the principal against
funding (disbursement), the schedule's contractual interest against deferred interest, and any
scheduled fees against fee income — one journal entry each, two postings each.
"""

from __future__ import annotations

import pyarrow as pa
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from arrears.db.base import UTCDateTime, utcnow
from arrears.db.bulk import insert_arrow
from arrears.ledger.model import CHARGE_OFFSET, RECEIVABLE, EntryKind
from arrears.products.model import Component

# entry kind, component, the batch column holding the amount
_BOOKINGS = (
    (EntryKind.disbursement, Component.principal, "principal"),
    (EntryKind.interest, Component.interest, "interest"),
    (EntryKind.fee, Component.fee, "fee"),
)


def post_booking_entries(session: Session, loan_ids: pa.ChunkedArray | pa.Array, memo: str) -> None:
    pg = session.connection().dialect.name == "postgresql"
    session.execute(text("DROP TABLE IF EXISTS booking_ids"))
    session.execute(text("CREATE TEMP TABLE booking_ids (loan_id BIGINT PRIMARY KEY)"
                         + (" ON COMMIT DROP" if pg else "")))
    insert_arrow(session, "booking_ids", pa.table({"loan_id": loan_ids}))
    # One pass over the new instalments: every amount a booking entry needs, per loan.
    session.execute(text("DROP TABLE IF EXISTS booking_batch"))
    session.execute(text("CREATE TEMP TABLE booking_batch" + (" ON COMMIT DROP" if pg else "") + """ AS
        SELECT l.id AS loan_id, l.borrower_id, l.disbursed_on, l.principal_fen AS principal,
               sum(i.interest_due_fen) AS interest, sum(i.fee_due_fen) AS fee
        FROM loans l JOIN booking_ids b ON b.loan_id = l.id JOIN instalments i ON i.loan_id = l.id
        GROUP BY l.id, l.borrower_id, l.disbursed_on, l.principal_fen"""))
    now = bindparam("now", utcnow(), type_=UTCDateTime)
    for kind, component, amount in _BOOKINGS:
        params = {"kind": kind.value, "memo": memo, "dr": RECEIVABLE[component].value,
                  "cr": CHARGE_OFFSET[component].value}
        session.execute(text(f"""
            INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
            SELECT loan_id, borrower_id, :kind, disbursed_on, :memo, :now FROM booking_batch
            WHERE {amount} > 0 ORDER BY loan_id""").bindparams(now), params)
        session.execute(text(f"""
            INSERT INTO postings (entry_id, loan_id, borrower_id, account, debit_fen, credit_fen)
            SELECT e.id, b.loan_id, b.borrower_id, side.account,
                   CASE WHEN side.account = :dr THEN b.{amount} ELSE 0 END,
                   CASE WHEN side.account = :cr THEN b.{amount} ELSE 0 END
            FROM booking_batch b JOIN journal_entries e ON e.loan_id = b.loan_id AND e.kind = :kind
            CROSS JOIN (SELECT :dr AS account UNION ALL SELECT :cr) side
            WHERE b.{amount} > 0 ORDER BY e.id, side.account = :cr"""), params)
    if not pg:  # PostgreSQL drops them at commit
        session.execute(text("DROP TABLE booking_batch"))
        session.execute(text("DROP TABLE booking_ids"))
