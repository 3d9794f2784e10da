"""Which loans changed since a run read its inputs, read in bulk from the journal.

Every change the engine can see goes through the ledger with the loan's id: payments, reversals, held credit
applied, waivers and their reinstatement, restructuring. A run records the journal's highest id *before* it
reads its inputs, once every entry up to it has committed (``journal_watermark``; ``RunSummary.watermark``, stored
in ``eod_runs.summary``); the next run takes every loan with an entry above it as changed (a superset is always safe), and every loan with a settlement whose value date
falls between the two business dates. The run's own penalty accruals are left out: the
engine never reads ``penalty_due_fen``. Schedules of new loans need nothing here (a loan missing from the
previous snapshot is recomputed anyway), nor restructured loans (always recomputed).
"""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from arrears.delinquency.tables import EodRun
from arrears.ledger.model import EntryKind

WATERMARK = "watermark"  # key of eod_runs.summary


def journal_watermark(session: Session) -> int:
    """The journal's highest id, such that every entry up to it has committed (call it in a transaction of its
    own, before the inputs are read: it commits nothing, and the lock ends with it).

    PostgreSQL hands out ids when a row is inserted and transactions commit in any order: the highest id
    visible can be above an entry still being written, which the read would miss and the next run, looking
    above the mark, would miss again. A SHARE lock waits for every transaction writing the journal to end and
    holds new writers off for the one index look-up. SQLite has one writer at a time: nothing to wait for."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '60s'"))
        session.execute(text("LOCK TABLE journal_entries IN SHARE MODE"))
    return int(session.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one())


def stored_watermark(session: Session, business_date: date) -> int | None:
    """The watermark of the complete run of ``business_date``, if it recorded one."""
    summary = session.scalar(select(EodRun.summary).where(EodRun.business_date == business_date,
                                                          EodRun.status == "complete"))
    if isinstance(summary, str):  # a driver that hands JSON back as text
        summary = json.loads(summary)
    value = (summary or {}).get(WATERMARK)
    return int(value) if value is not None else None


def changed_since(session: Session, watermark: int, previous: date, business_date: date) -> pa.Array:
    """Distinct loan_ids with a journal entry above ``watermark`` other than the end of day's penalty accrual,
    or with a settlement whose value date falls in (previous, business_date]: booked earlier with a later
    value date, it counts only from that date on."""
    rows = session.execute(text("""
        SELECT loan_id FROM journal_entries WHERE id > :w AND kind <> :penalty
        UNION
        SELECT loan_id FROM payment_allocations WHERE value_date > :p AND value_date <= :d"""),
                           {"w": watermark, "penalty": EntryKind.penalty.value, "p": previous,
                            "d": business_date}).scalars().all()
    return pa.array(sorted(rows), pa.int64())
