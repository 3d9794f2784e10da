"""Writing one run's results in the caller's transaction: each loan's current state, the day's
transitions, the penalties that changed (with their ledger entries) and the run record.

Penalty changes are posted as deltas (today's cumulative penalty minus what is stored), so running the
same date twice posts nothing the second time, and a backdated payment that lowers a penalty posts a
reversing amount. All set-based: temp tables and INSERT … SELECT, no loop over loans.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import duckdb
import pyarrow as pa
from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from arrears.db.base import UTCDateTime, as_date, utcnow
from arrears.db.bulk import (
    adbc_available,
    insert_arrow,
    insert_arrow_into_empty,
    read_arrow_parallel,
    temp_table,
    update_from_arrow,
)
from arrears.delinquency.io import STORED_PENALTIES, STORED_PENALTIES_SQL, stored_penalties
from arrears.delinquency.model import EngineOutputs, conform
from arrears.ledger.model import Account, EntryKind

STATE_COLUMNS = ["loan_id", "borrower_id", "business_date", "product_code", "dpd", "overdue_principal_fen",
                 "overdue_interest_fen", "overdue_fee_fen", "overdue_penalty_fen", "penalty_due_fen",
                 "outstanding_principal_fen", "total_outstanding_fen", "bucket", "tier", "m_bucket",
                 "classification", "in_observation", "fully_paid"]
STORED_STATE_SQL = f"SELECT {', '.join(STATE_COLUMNS)} FROM loan_delinquency"


def completed_dates(session: Session) -> list[date]:
    """Business dates whose run committed, oldest first: only their snapshots count."""
    rows = session.execute(text("SELECT business_date FROM eod_runs WHERE status = 'complete' "
                                "ORDER BY business_date")).scalars().all()
    return [as_date(d) for d in rows]


def penalty_changes(session: Session, outputs: EngineOutputs, stored: pa.Table | None = None) -> pa.Table:
    """(loan_id, seq, penalty_due_fen, delta_fen) for every instalment whose penalty changed; ``stored``: the
    stored penalties if the caller read them already (``STORED_PENALTIES_SQL``)."""
    con = duckdb.connect()
    con.register("new", outputs.penalties)
    con.register("old", stored_penalties(session) if stored is None else stored)
    con.register("run", outputs.snapshot.select(["loan_id"]))
    return con.sql("""
        SELECT coalesce(n.loan_id, o.loan_id) AS loan_id, coalesce(n.seq, o.seq) AS seq,
               coalesce(n.penalty_due_fen, 0) AS penalty_due_fen,
               coalesce(n.penalty_due_fen, 0) - coalesce(o.penalty_due_fen, 0) AS delta_fen
        FROM new n FULL OUTER JOIN old o ON n.loan_id = o.loan_id AND n.seq = o.seq
        WHERE coalesce(n.loan_id, o.loan_id) IN (SELECT loan_id FROM run)  -- rejected loans keep theirs
          AND coalesce(n.penalty_due_fen, 0) <> coalesce(o.penalty_due_fen, 0)
        ORDER BY 1, 2""").to_arrow_table()


def write_results(session: Session, business_date: date, outputs: EngineOutputs, *, started_at: datetime,
                  summary: dict, laps: dict[str, int] | None = None) -> dict:
    """Writes the run; ``laps`` (if given) receives the milliseconds each step took (the benchmark's breakdown)."""
    clock = [time.perf_counter_ns()]

    def lap(name: str) -> None:
        now = time.perf_counter_ns()
        if laps is not None:
            laps[name] = (now - clock[0]) // 1_000_000
        clock[0] = now

    if session.connection().dialect.name == "postgresql":
        # Memory for this transaction's hash joins only. synchronous_commit stays on: this transaction ends
        # with the run record that marks the date complete; committed asynchronously, a crash right after
        # the commit could lose the whole run while the caller (and the cases, letters and strategy written
        # in the same transaction, and the outbox sent from them) already acted on it as done. One flush per
        # run costs milliseconds; it is not where the time goes.
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    stored_state = None
    if session.connection().dialect.name == "postgresql" and adbc_available():
        # Both stored tables the run diffs against, side by side, before this transaction writes anything.
        stored, stored_state = read_arrow_parallel(session, [STORED_PENALTIES_SQL, STORED_STATE_SQL])
        changes = penalty_changes(session, outputs, stored=conform(stored, STORED_PENALTIES))
    else:
        changes = penalty_changes(session, outputs)
    lap("penalty_diff_ms")
    _post_penalties(session, business_date, changes, lap)
    lap("penalty_ledger_ms")
    state = outputs.snapshot.select(STATE_COLUMNS)
    if stored_state is not None and stored_state.num_rows:
        _rewrite_changed_state(session, business_date, state, stored_state)
    else:
        session.execute(text("DELETE FROM loan_delinquency"))
        insert_arrow_into_empty(session, "loan_delinquency", state)  # a first run: indexes built after the load
    lap("state_ms")
    session.execute(text("DELETE FROM delinquency_transitions WHERE business_date = :d"), {"d": business_date})
    con = duckdb.connect()
    con.register("t", outputs.transitions)
    con.register("s", outputs.snapshot.select(["loan_id", "borrower_id"]))
    insert_arrow_into_empty(session, "delinquency_transitions", con.sql(
        "SELECT t.business_date, t.loan_id, s.borrower_id, t.kind, t.from_value, t.to_value "
        "FROM t JOIN s USING (loan_id) ORDER BY t.loan_id, t.kind").to_arrow_table())
    lap("transitions_ms")
    summary = {**summary, "penalty_changes": changes.num_rows,
               "penalty_delta_fen": int(pa.compute.sum(changes.column("delta_fen")).as_py() or 0)}
    session.execute(text("DELETE FROM eod_runs WHERE business_date = :d"), {"d": business_date})
    session.execute(text("INSERT INTO eod_runs (business_date, status, started_at, finished_at, loans, rejected, "
                         "summary) VALUES (:d, 'complete', :s, :f, :n, :r, :summary)"),
                    {"d": business_date, "s": started_at, "f": utcnow(), "n": outputs.snapshot.num_rows,
                     "r": outputs.rejected.num_rows, "summary": _json(summary)})
    lap("run_record_ms")
    return summary


def _rewrite_changed_state(session: Session, business_date: date, state: pa.Table, stored: pa.Table) -> None:
    """PostgreSQL: the loan_delinquency table made equal to ``state`` by rewriting only what differs. Each day
    only the overdue loans and those something happened to (≈ 20 %) change beyond the date; the rest get the new
    business_date by an UPDATE of that one unindexed column, which at the table's fillfactor (50) stays on
    the page (HOT: no index entries) — where DELETE and COPY of every row inserted 4M index entries a day."""
    con = duckdb.connect()
    con.register("new", state)
    con.register("old", stored)
    others = [c for c in STATE_COLUMNS if c not in ("loan_id", "business_date")]
    differs = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in others)
    changed = con.sql(f"SELECT n.* FROM new n JOIN old o USING (loan_id) WHERE {differs} "
                      "ORDER BY n.loan_id").to_arrow_table()
    added = con.sql("SELECT * FROM new ANTI JOIN old USING (loan_id) ORDER BY loan_id").to_arrow_table()
    gone = con.sql("SELECT loan_id FROM old ANTI JOIN new USING (loan_id) ORDER BY loan_id").to_arrow_table()
    if gone.num_rows:  # loans no longer in the run (closed, rejected): their rows go, as with a full rewrite
        temp_table(session, "state_gone", "loan_id BIGINT PRIMARY KEY")
        insert_arrow(session, "state_gone", gone)
        session.execute(text("DELETE FROM loan_delinquency d USING state_gone g WHERE d.loan_id = g.loan_id"))
    update_from_arrow(session, "loan_delinquency", changed, key="loan_id", lookup=True)
    session.execute(text("UPDATE loan_delinquency SET business_date = :d WHERE business_date IS DISTINCT FROM :d")
                    .bindparams(bindparam("d", type_=Date())), {"d": business_date})
    insert_arrow(session, "loan_delinquency", added)


def _json(value: dict) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _post_penalties(session: Session, business_date: date, changes: pa.Table, lap=lambda _: None) -> None:
    """New penalty amounts onto the instalments, and one balanced entry per loan for the change."""
    if changes.num_rows == 0:
        lap("penalty_update_ms")
        return
    update_from_arrow(session, "instalments", changes.select(["loan_id", "seq", "penalty_due_fen"]),
                      key=("loan_id", "seq"), lookup=True)  # sorted by (loan_id, seq): penalty_changes
    lap("penalty_update_ms")
    con = duckdb.connect()
    con.register("c", changes)
    per_loan = con.sql("SELECT loan_id, sum(delta_fen)::BIGINT AS delta_fen FROM c GROUP BY loan_id "
                       "HAVING sum(delta_fen) <> 0 ORDER BY loan_id").to_arrow_table()
    pg = session.connection().dialect.name == "postgresql"
    if pg:
        _post_penalties_pg(session, business_date, per_loan)
        return
    session.execute(text("DROP TABLE IF EXISTS penalty_batch"))
    session.execute(text("CREATE TEMP TABLE penalty_batch (loan_id BIGINT PRIMARY KEY, delta_fen BIGINT)"))
    insert_arrow(session, "penalty_batch", per_loan)
    before = session.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one()
    params = {"d": business_date, "kind": EntryKind.penalty.value, "before": before,
              "receivable": Account.penalty_receivable.value, "income": Account.penalty_income.value,
              "memo": f"penalty accrual {business_date.isoformat()}"}
    session.execute(text("""
        INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
        SELECT l.id, l.borrower_id, :kind, :d, :memo, :now FROM penalty_batch b JOIN loans l ON l.id = b.loan_id
        ORDER BY l.id""").bindparams(bindparam("now", utcnow(), type_=UTCDateTime)), params)
    # Positive change: Dr receivable / Cr income. Negative: the mirror.
    session.execute(text("""
        INSERT INTO postings (entry_id, loan_id, borrower_id, account, debit_fen, credit_fen)
        SELECT e.id, e.loan_id, e.borrower_id, side.account,
               CASE WHEN (side.account = :receivable) = (b.delta_fen > 0) THEN abs(b.delta_fen) ELSE 0 END,
               CASE WHEN (side.account = :receivable) = (b.delta_fen > 0) THEN 0 ELSE abs(b.delta_fen) END
        FROM penalty_batch b
        JOIN journal_entries e ON e.loan_id = b.loan_id AND e.kind = :kind AND e.id > :before
        CROSS JOIN (SELECT :receivable AS account UNION ALL SELECT :income) side
        ORDER BY e.id, side.account"""), params)
    session.execute(text("DROP TABLE penalty_batch"))


def _post_penalties_pg(session: Session, business_date: date, per_loan: pa.Table) -> None:
    """PostgreSQL: the entries and their two postings in one statement (the entries' ids come back from
    INSERT … RETURNING instead of being looked up again by loan)."""
    session.execute(text("CREATE TEMP TABLE penalty_batch (loan_id BIGINT PRIMARY KEY, delta_fen BIGINT) "
                         "ON COMMIT DROP"))
    insert_arrow(session, "penalty_batch", per_loan)
    session.execute(text("ANALYZE penalty_batch"))
    session.execute(text("""
        WITH e AS (
            INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
            SELECT l.id, l.borrower_id, :kind, :d, :memo, :now FROM penalty_batch b JOIN loans l ON l.id = b.loan_id
            ORDER BY l.id
            RETURNING id, loan_id, borrower_id)
        INSERT INTO postings (entry_id, loan_id, borrower_id, account, debit_fen, credit_fen)
        SELECT e.id, e.loan_id, e.borrower_id, side.account,
               CASE WHEN (side.account = :receivable) = (b.delta_fen > 0) THEN abs(b.delta_fen) ELSE 0 END,
               CASE WHEN (side.account = :receivable) = (b.delta_fen > 0) THEN 0 ELSE abs(b.delta_fen) END
        FROM e JOIN penalty_batch b ON b.loan_id = e.loan_id
        CROSS JOIN (SELECT CAST(:receivable AS VARCHAR) AS account UNION ALL SELECT :income) side
        ORDER BY e.id, side.account""").bindparams(bindparam("now", utcnow(), type_=UTCDateTime)),
        {"d": business_date, "kind": EntryKind.penalty.value, "receivable": Account.penalty_receivable.value,
         "income": Account.penalty_income.value, "memo": f"penalty accrual {business_date.isoformat()}"})
