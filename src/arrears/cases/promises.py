"""Promises to pay: made from a contact whose outcome is a promise, resolved at end of day in bulk.

Rule (``policy.yaml`` promises): a promise of ``amount_fen`` made on ``promised_on`` and due ``due_on`` is
**kept** on the first business date by which posted payments on its loan with ``received_on`` (the payment's
value date) between ``promised_on`` and ``due_on + grace_days`` add up to at least ``amount_fen``; it is
**broken** on the first business date after ``due_on + grace_days`` without that. ``paid_fen`` is what counted.
One open promise per case (a partial unique index). Strategy rules read ``status`` / ``resolved_on``.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from arrears.audit.bulk import append_events
from arrears.audit.service import append_event
from arrears.cases.contacts import open_case
from arrears.cases.policy import policy
from arrears.cases.tables import ContactLog, PromiseToPay
from arrears.db.bulk import fetch_arrow, temp_table, update_from_arrow
from arrears.errors import Conflict, InvalidInput, NotFound

SUBJECT = "case"


def create_promise(session: Session, *, contact_id: int, amount_fen: int, due_on: date, promised_on: date,
                   actor: str) -> PromiseToPay:
    """A promise from an allowed contact with outcome ``promise``, on that contact's case."""
    rules = policy().promises
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("a promise is a positive whole number of fen", field="amount_fen",
                           rule="promise.amount_positive")
    latest = promised_on + timedelta(days=rules.max_horizon_days)
    if not promised_on <= due_on <= latest:
        raise InvalidInput(f"the promised date must be between {promised_on} and {latest} "
                           f"(policy.yaml promises.max_horizon_days = {rules.max_horizon_days})",
                           field="due_on", rule="promise.horizon")
    contact = session.get(ContactLog, contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}", field="contact_id", rule="contact.exists")
    if not contact.allowed or contact.outcome != "promise":
        raise InvalidInput("a promise comes from an allowed contact whose outcome is promise_to_pay",
                           field="contact_id", rule="promise.from_contact")
    case = open_case(session, contact.case_id)
    if session.scalar(select(PromiseToPay.id).where(PromiseToPay.case_id == case.id,
                                                    PromiseToPay.status == "open")) is not None:
        raise Conflict(f"case {case.id} already has an open promise", field="case_id", rule="promise.one_open")
    promise = PromiseToPay(case_id=case.id, loan_id=case.loan_id, borrower_id=case.borrower_id,
                           amount_fen=amount_fen, promised_on=promised_on, due_on=due_on, status="open",
                           paid_fen=0, contact_id=contact.id)
    session.add(promise)
    session.flush()
    append_event(session, actor=actor, action="promise.made", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=case.borrower_id, after={"promise_id": promise.id, "amount_fen": amount_fen,
                                                      "promised_on": promised_on, "due_on": due_on})
    return promise


def resolve_table(promises: pa.Table, payments: pa.Table, business_date: date, grace_days: int) -> pa.Table:
    """Pure and set-based (DuckDB): which open promises resolve on ``business_date``.

    ``promises``: id, amount_fen, promised_on, due_on. ``payments``: promise_id, amount_fen, received_on (the
    payments of each promise's loan). Returns id, status ('kept' | 'broken'), paid_fen for those resolved."""
    con = duckdb.connect()
    con.register("p", promises)
    con.register("pay", payments)
    d = f"DATE '{business_date.isoformat()}'"
    out = con.sql(f"""
        WITH w AS (
            SELECT CAST(id AS BIGINT) AS id, CAST(amount_fen AS BIGINT) AS amount_fen,
                   CAST(promised_on AS DATE) AS promised_on,
                   CAST(due_on AS DATE) + {int(grace_days)} AS last_day FROM p),
        paid AS (
            SELECT w.id, COALESCE(SUM(CAST(pay.amount_fen AS BIGINT)), 0) AS paid_fen
            FROM w LEFT JOIN pay ON CAST(pay.promise_id AS BIGINT) = w.id
             AND CAST(pay.received_on AS DATE) BETWEEN w.promised_on AND LEAST(w.last_day, {d})
            GROUP BY w.id)
        SELECT w.id, CASE WHEN paid.paid_fen >= w.amount_fen THEN 'kept' ELSE 'broken' END AS status,
               CAST(paid.paid_fen AS BIGINT) AS paid_fen
        FROM w JOIN paid USING (id)
        WHERE paid.paid_fen >= w.amount_fen OR w.last_day < {d}
        ORDER BY w.id""").to_arrow_table()
    con.close()
    return out


def resolve_promises(session: Session, business_date: date, *, actor: str = "eod") -> dict:
    """Resolves the open promises due for it on ``business_date`` in bulk, with a case event each."""
    grace = policy().promises.grace_days
    params = {"d": business_date}
    promises = fetch_arrow(session, "SELECT id, amount_fen, promised_on, due_on FROM promises_to_pay "
                                    "WHERE status = 'open' AND promised_on <= :d", params)
    if promises.num_rows == 0:
        return {"promises_kept": 0, "promises_broken": 0}
    payments = fetch_arrow(session, """
        SELECT p.id AS promise_id, pay.amount_fen, pay.received_on FROM promises_to_pay p
        JOIN payments pay ON pay.loan_id = p.loan_id AND pay.status = 'posted'
         AND pay.received_on >= p.promised_on AND pay.received_on <= :d
        WHERE p.status = 'open' AND p.promised_on <= :d""", params)
    if payments.num_rows == 0:
        payments = pa.table({"promise_id": pa.array([], pa.int64()), "amount_fen": pa.array([], pa.int64()),
                             "received_on": pa.array([], pa.date32())})
    done = resolve_table(promises, payments, business_date, grace)
    if done.num_rows == 0:
        return {"promises_kept": 0, "promises_broken": 0}
    rows = done.append_column("resolved_on", pa.array([business_date] * done.num_rows, pa.date32()))
    update_from_arrow(session, "promises_to_pay", rows, assignments=(
        "status = u.status, paid_fen = u.paid_fen, resolved_on = u.resolved_on, version = version + 1"),
        where="AND promises_to_pay.status = 'open'")
    temp_table(session, "ptp_done", "id BIGINT PRIMARY KEY, borrower_id BIGINT, promise_id BIGINT, "
                                    "status VARCHAR(10), paid_fen BIGINT, amount_fen BIGINT")
    ids = ", ".join(str(i) for i in done.column("id").to_pylist())
    session.execute(text(f"""
        INSERT INTO ptp_done (id, borrower_id, promise_id, status, paid_fen, amount_fen)
        SELECT case_id, borrower_id, id, status, paid_fen, amount_fen FROM promises_to_pay WHERE id IN ({ids})"""))
    for status in ("kept", "broken"):
        append_events(session, subject="case", table=f"(SELECT * FROM ptp_done WHERE status = '{status}')",
                      cols="s.id, s.borrower_id, s.promise_id, s.paid_fen, s.amount_fen", action=f"promise.{status}",
                      actor=actor, reason=f"end of day {business_date.isoformat()}",
                      before="""'{"status":"open"}'""",
                      after=("""'{"amount_fen":' || amount_fen::VARCHAR || ',"paid_fen":' || paid_fen::VARCHAR"""
                             """ || ',"promise_id":' || promise_id::VARCHAR || ',"resolved_on":"""
                             f""""{business_date.isoformat()}","status":"{status}"}}'"""))
    session.execute(text("DROP TABLE ptp_done"))
    kept = done.column("status").to_pylist().count("kept")
    return {"promises_kept": kept, "promises_broken": done.num_rows - kept}


def promise_stats(session: Session, start: date, end: date) -> dict:
    """Promise-kept rate (DOMAIN §4): promises resolved kept ÷ promises resolved (kept or broken), by resolution
    date in [start, end]. The rate is a Decimal ratio rounded to 4 places; None when nothing fell due."""
    from decimal import ROUND_HALF_UP, Decimal

    counts = dict(session.execute(select(PromiseToPay.status, func.count()).where(
        PromiseToPay.status.in_(("kept", "broken")), PromiseToPay.resolved_on.between(start, end))
        .group_by(PromiseToPay.status)).all())
    kept, broken = int(counts.get("kept", 0)), int(counts.get("broken", 0))
    rate = None if kept + broken == 0 else \
        (Decimal(kept) / Decimal(kept + broken)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return {"kept": kept, "broken": broken, "kept_rate": rate}
