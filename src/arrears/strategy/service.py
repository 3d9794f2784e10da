"""``run_strategy(session, business_date)``: after end of day, every open case not yet decided that date gets
its arm and first matching rule (one DuckDB query), and the rules' actions are applied set-based: stage moves
(cases, with ``case.stage_moved`` events), work tasks (queued and assigned), messages (compliance guard in
bulk; refusals logged to contact_log; allowed ones staged, and queued in the outbox when a cipher is given).
Idempotent per date: a case decided for the date is skipped, tasks are unique per case and date, messages
carry a dedupe key. Takes the caller's session and never commits."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import duckdb
import pyarrow as pa
from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.db.base import utcnow
from arrears.db.bulk import insert_arrow
from arrears.privacy import PersonalDataCipher
from arrears.queues.priority import refresh_priorities
from arrears.queues.service import assign_open_tasks
from arrears.scores.service import latest_scores_sql
from arrears.strategy import apply, sends
from arrears.strategy.config import StrategyFile, strategy
from arrears.strategy.evaluate import CASES, EVENT_ROWS, actions_table, conform, evaluate, rules_table

ACTOR = "strategy"

# risk_score is the loan's latest score (scores.service.latest_scores_sql) in per mille, 0–1000, rounded half up:
# rule ranges are integers. Via exact micro-units (the column keeps 6 places) so SQLite's REAL and PostgreSQL's
# NUMERIC round alike; NULL (never matches a range) when the loan has no score.
FACTS_SQL = """
    SELECT c.id AS case_id, c.loan_id, c.borrower_id, l.product_code, c.stage, c.opened_on,
           d.bucket, d.tier, d.m_bucket, d.dpd, d.total_outstanding_fen,
           (CAST(ROUND(rs.risk_score * 1000000) AS BIGINT) + 500) / 1000 AS risk_score,
           CASE WHEN EXISTS (SELECT 1 FROM complaints k WHERE k.borrower_id = c.borrower_id
                             AND k.status IN ('open', 'in_progress')) THEN 1 ELSE 0 END AS open_complaint,
           CASE WHEN EXISTS (SELECT 1 FROM promises_to_pay p WHERE p.case_id = c.id AND p.status = 'open')
                THEN 1 ELSE 0 END AS promise_open,
           b.language, b.timezone
    FROM cases c JOIN loans l ON l.id = c.loan_id JOIN borrowers b ON b.id = c.borrower_id
    LEFT JOIN loan_delinquency d ON d.loan_id = c.loan_id
    LEFT JOIN (""" + latest_scores_sql() + """) rs ON rs.loan_id = c.loan_id
    WHERE c.status = 'open' AND c.opened_on <= :d
      AND NOT EXISTS (SELECT 1 FROM strategy_decisions s WHERE s.case_id = c.id AND s.business_date = :d)"""

# The day's events of each open case: delinquency transitions of its loan, promises resolved that date.
EVENTS_SQL = """
    SELECT c.id AS case_id, t.kind FROM delinquency_transitions t
    JOIN cases c ON c.loan_id = t.loan_id AND c.status = 'open'
    WHERE t.business_date = :d
    UNION ALL
    SELECT p.case_id, 'promise_' || p.status FROM promises_to_pay p
    WHERE p.resolved_on = :d AND p.status IN ('kept', 'broken')"""


def fetch(session: Session, sql: str, params: dict, types: dict | None = None) -> pa.Table:
    """Rows as Arrow, with typed binds and result columns (SQLite returns dates and times as text)."""
    stmt = text(sql).bindparams(*(bindparam(k, type_=Date()) for k, v in params.items() if isinstance(v, date)
                                  and not isinstance(v, datetime)))
    if types:
        stmt = stmt.columns(**types)
    result = session.execute(stmt, params)
    names = list(result.keys())
    rows = result.fetchall()
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}) if rows else \
        pa.table({n: pa.array([], pa.null()) for n in names})


def run_strategy(session: Session, business_date: date, *, config: StrategyFile | None = None,
                 cipher: PersonalDataCipher | None = None, now: datetime | None = None) -> dict[str, int]:
    config = config or strategy()
    now = now or utcnow()
    facts = fetch(session, FACTS_SQL, {"d": business_date})
    summary = {"cases": facts.num_rows, "matched": 0, "escalated": 0, "tasks": 0, "assigned": 0,
               "sends_staged": 0, "sends_refused": 0, "queued": 0}
    if facts.num_rows:
        facts = _typed_facts(facts)
        events = conform(fetch(session, EVENTS_SQL, {"d": business_date}), EVENT_ROWS)
        decided = evaluate(facts, events, config, business_date)
        con = duckdb.connect()
        try:
            for name, table in (("facts", facts), ("decided", decided), ("rules", rules_table(config)),
                                ("actions", actions_table(config))):
                con.register(name, table)
            _record(session, con, config, business_date, summary)
            summary["escalated"] = apply.escalate(session, con, business_date)
            summary["tasks"] = apply.create_tasks(session, con, business_date, now)
            staged, refused = sends.decide(session, con, config, business_date, now)
            summary["sends_staged"], summary["sends_refused"] = staged, refused
        finally:
            con.close()
        append_event(session, actor=ACTOR, action="strategy.run", subject_type="strategy_run",
                     subject_id=business_date.isoformat(), occurred_at=now,
                     after={**summary, "experiment": config.experiment,
                            "decisions_sha256": _digest(decided)})
    # queue order follows the day's balances and the latest propensity scores (new tasks included)
    summary["reprioritised"] = refresh_priorities(session)
    # tasks waiting for room (or for a collector's account) are assigned on every run, not only new ones
    summary["assigned"] = assign_open_tasks(session, now=now)
    if cipher is not None:
        summary["queued"] = sends.deliver(session, cipher, business_date=business_date, now=now)
    return summary


def _typed_facts(facts: pa.Table) -> pa.Table:
    typed = conform(facts, CASES)
    for name in ("language", "timezone"):
        typed = typed.append_column(name, facts.column(name).cast(pa.string()))
    return typed


def _record(session: Session, con: duckdb.DuckDBPyConnection, config: StrategyFile, d: date,
            summary: dict) -> None:
    """One strategy_decisions row per case: the experiment's raw data (arm, rule, balance at the time)."""
    rows = con.sql(f"""
        SELECT x.case_id, DATE '{d.isoformat()}' AS business_date, f.loan_id,
               '{config.experiment}' AS experiment, x.strategy,
               CASE WHEN x.strategy = '{config.champion.name}' THEN 'champion' ELSE 'challenger' END AS role,
               r.rule, COALESCE(f.total_outstanding_fen, 0) AS total_outstanding_fen
        FROM decided x JOIN facts f USING (case_id) LEFT JOIN rules r USING (rule_no)
        ORDER BY x.case_id""").to_arrow_table()
    insert_arrow(session, "strategy_decisions", rows)
    summary["matched"] = rows.num_rows - rows.column("rule").null_count


def _digest(decided: pa.Table) -> str:
    """SHA-256 of the decisions (case, strategy, rule), so the run's event pins what was decided."""
    h = hashlib.sha256()
    for col in ("case_id", "strategy", "rule_no"):
        h.update(str(decided.column(col).to_pylist()).encode())
    return h.hexdigest()
