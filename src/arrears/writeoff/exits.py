"""Taking loans off the book, set-based: what each loan still owes, the balanced entries (one per loan, one
INSERT … SELECT for all), clearing the instalments, the loans' status, their cases closed and the
``loan_exits`` / ``credit_special_events`` rows. Shared by write-off and transfer."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from arrears.audit.bulk import append_events
from arrears.db.base import UTCDateTime, utcnow
from arrears.db.bulk import insert_arrow, temp_table
from arrears.delinquency.io import _read
from arrears.errors import InvalidInput
from arrears.ledger.model import RECEIVABLE, EntryKind
from arrears.products.model import COMPONENTS

FEN = pa.int64()
OUTSTANDING = pa.schema([
    ("loan_id", pa.int64()), ("borrower_id", pa.int64()), ("dpd", pa.int32()), ("bucket", pa.string()),
    ("m_bucket", pa.string()), ("classification", pa.string()),
    *[(f"{c}_fen", FEN) for c in COMPONENTS], ("balance_fen", FEN),
])
LEGS = pa.schema([("loan_id", pa.int64()), ("borrower_id", pa.int64()), ("account", pa.string()),
                  ("debit_fen", FEN), ("credit_fen", FEN)])


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def outstanding(session: Session, where: str, params: dict | None = None) -> pa.Table:
    """Active loans matching ``where`` (SQL over ``l`` loans and ``d`` loan_delinquency) with what each still
    owes by component; one GROUP BY."""
    sums = ", ".join(f"sum(i.{c}_due_fen - i.{c}_paid_fen - i.{c}_waived_fen) AS {c}_fen" for c in COMPONENTS)
    total = " + ".join(f"i.{c}_due_fen - i.{c}_paid_fen - i.{c}_waived_fen" for c in COMPONENTS)
    return _read(session, f"""
        SELECT l.id AS loan_id, l.borrower_id, coalesce(d.dpd, 0) AS dpd, coalesce(d.bucket, '') AS bucket,
               coalesce(d.m_bucket, '') AS m_bucket, coalesce(d.classification, '') AS classification,
               {sums}, sum({total}) AS balance_fen
        FROM loans l JOIN instalments i ON i.loan_id = l.id LEFT JOIN loan_delinquency d ON d.loan_id = l.id
        WHERE l.status = 'active' AND ({where})
        GROUP BY l.id, l.borrower_id, d.dpd, d.bucket, d.m_bucket, d.classification
        HAVING sum({total}) > 0
        ORDER BY l.id""", OUTSTANDING, params)


def receivable_legs(items: pa.Table, debits: str) -> pa.Table:
    """Per loan: a credit to each receivable it still owes, and the debit legs ``debits`` gives — a DuckDB
    SELECT over ``items`` returning (loan_id, account, debit_fen, credit_fen)."""
    con = duckdb.connect()
    con.register("items", items)
    credits = " UNION ALL ".join(
        f"SELECT loan_id, borrower_id, '{RECEIVABLE[c].value}' AS account, CAST(0 AS BIGINT) AS debit_fen, "
        f"CAST({c}_fen AS BIGINT) AS credit_fen FROM items WHERE {c}_fen > 0" for c in COMPONENTS)
    legs = con.sql(f"""
        SELECT * FROM ({credits}) UNION ALL
        SELECT d.loan_id, i.borrower_id, d.account, CAST(d.debit_fen AS BIGINT), CAST(d.credit_fen AS BIGINT)
        FROM ({debits}) d JOIN items i USING (loan_id) WHERE d.debit_fen > 0 OR d.credit_fen > 0
        ORDER BY 1, 3""").to_arrow_table()
    con.close()
    return legs.cast(LEGS)


def post_entries(session: Session, legs: pa.Table, *, kind: EntryKind, business_date: date, memo: str) -> int:
    """One balanced entry per loan in ``legs``; refuses (naming the loan) a one-sided or unbalanced set."""
    con = duckdb.connect()
    con.register("legs", legs)
    bad = con.sql("""SELECT loan_id, sum(debit_fen), sum(credit_fen) FROM legs GROUP BY loan_id
                     HAVING sum(debit_fen) <> sum(credit_fen)
                        OR bool_or(debit_fen < 0 OR credit_fen < 0 OR (debit_fen = 0) = (credit_fen = 0))
                     ORDER BY loan_id LIMIT 1""").fetchall()
    con.close()
    if bad:
        loan_id, d, c = bad[0]
        raise InvalidInput(f"{kind} entry for loan {loan_id}: debits {d} ≠ credits {c} or a leg not one-sided",
                           field="legs", rule="ledger.balanced")
    temp_table(session, "exit_legs", "loan_id BIGINT, borrower_id BIGINT, account VARCHAR(30), debit_fen BIGINT, "
                                     "credit_fen BIGINT")
    insert_arrow(session, "exit_legs", legs)
    now = bindparam("now", utcnow(), type_=UTCDateTime)
    params = {"kind": kind.value, "memo": memo, "d": business_date}
    session.execute(text("""
        INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
        SELECT DISTINCT loan_id, borrower_id, :kind, :d, :memo, :now FROM exit_legs ORDER BY loan_id""")
                    .bindparams(now, bindparam("d", type_=Date())), params)
    session.execute(text("""
        INSERT INTO postings (entry_id, loan_id, borrower_id, account, debit_fen, credit_fen)
        SELECT e.id, x.loan_id, x.borrower_id, x.account, x.debit_fen, x.credit_fen
        FROM exit_legs x JOIN journal_entries e ON e.loan_id = x.loan_id AND e.kind = :kind AND e.memo = :memo
        ORDER BY e.id, x.account"""), {"kind": kind.value, "memo": memo})
    session.execute(text("DROP TABLE exit_legs"))
    return legs.num_rows


def leave_book(session: Session, items: pa.Table, *, status: str, batch_id: int, today: date, actor: str,
               close_reason: str, special_kind: str, detail: str, action: str) -> None:
    """``items`` (loan_id, borrower_id, classification, balance_fen) leave the book: instalments cleared (what was
    owed is now in the exit entry, so receivable = due − paid − waived stays true), status set, open cases
    closed with ``close_reason`` (case events chained in bulk), ``loan_exits`` and a special-transaction event
    for credit reporting. One audit event per loan on its own chain (written in bulk)."""
    temp_table(session, "exit_ids", "loan_id BIGINT PRIMARY KEY, borrower_id BIGINT, classification VARCHAR(20), "
                                    "balance_fen BIGINT")
    insert_arrow(session, "exit_ids", items.select(["loan_id", "borrower_id", "classification", "balance_fen"]))
    sets = ", ".join(f"{c}_waived_fen = {c}_due_fen - {c}_paid_fen" for c in COMPONENTS)
    session.execute(text(f"UPDATE instalments SET {sets} WHERE loan_id IN (SELECT loan_id FROM exit_ids)"))
    session.execute(text("UPDATE loans SET status = :s, version = version + 1 WHERE id IN "
                         "(SELECT loan_id FROM exit_ids)"), {"s": status})
    params = {"s": status, "b": batch_id, "d": today, "k": special_kind, "detail": detail[:200]}
    dates = (bindparam("d", type_=Date()), bindparam("now", utcnow(), type_=UTCDateTime))
    session.execute(text("""
        INSERT INTO loan_exits (loan_id, borrower_id, kind, batch_id, exit_on, classification, amount_fen,
                                recovered_fen)
        SELECT loan_id, borrower_id, :s, :b, :d, classification, balance_fen, 0 FROM exit_ids""")
                    .bindparams(dates[0]), params)
    session.execute(text("""
        INSERT INTO credit_special_events (loan_id, borrower_id, kind, occurred_on, amount_fen, months_changed,
                                           detail, source, created_at)
        SELECT loan_id, borrower_id, :k, :d, balance_fen, 0, :detail, :s, :now FROM exit_ids""")
                    .bindparams(*dates), params)
    _close_cases(session, close_reason, today, actor)
    # One event per loan on its own chain, written set-based (keys sorted as append_event's canonical JSON).
    after = ("'{\"amount_fen\":' || balance_fen::VARCHAR || "
             f"',\"batch_id\":{int(batch_id)},\"on\":\"{today.isoformat()}\",\"status\":\"{status}\"}}'")
    append_events(session, subject="loan", table="(SELECT loan_id AS id, borrower_id, balance_fen FROM exit_ids)",
                  cols="s.id, s.borrower_id, s.balance_fen", action=action, actor=actor, reason="",
                  before="'{\"status\":\"active\"}'", after=after)
    session.execute(text("DROP TABLE exit_ids"))


def _close_cases(session: Session, reason: str, today: date, actor: str) -> None:
    temp_table(session, "exit_cases",
               "id BIGINT PRIMARY KEY, borrower_id BIGINT, stage VARCHAR(20), reason VARCHAR(30)")
    session.execute(text("""INSERT INTO exit_cases (id, borrower_id, stage, reason)
                            SELECT id, borrower_id, stage, :r FROM cases
                            WHERE status = 'open' AND loan_id IN (SELECT loan_id FROM exit_ids)"""), {"r": reason})
    session.execute(text("""UPDATE cases SET status = 'closed', closed_on = :d, close_reason = :r, next_action = '',
                            next_action_due = NULL, version = version + 1
                            WHERE id IN (SELECT id FROM exit_cases)""").bindparams(
        bindparam("d", type_=Date())), {"d": today, "r": reason})
    append_events(session, subject="case", table="exit_cases", cols="s.id, s.borrower_id, s.stage, s.reason",
                  action="case.closed", actor=actor, reason=f"loan {reason}",
                  before="""'{"stage":"' || stage || '","status":"open"}'""",
                  after=f"""'{{"close_reason":"' || reason || '","closed_on":"{today.isoformat()}","""
                        """"status":"closed"}'""")
    session.execute(text("DROP TABLE exit_cases"))
