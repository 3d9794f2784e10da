"""Applying the decided rules' stage moves and tasks, set-based. ``con`` (DuckDB) holds ``facts``,
``decided``, ``rules`` and ``actions`` (see service.py); results go to the database in bulk."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.audit.bulk import append_events
from arrears.cases.model import lifecycle
from arrears.db.bulk import insert_arrow, temp_table

ACTOR = "strategy"


def stored_at(session: Session, at: datetime) -> str:
    """A UTC instant as SQLAlchemy stores it: naive text on SQLite, with an explicit offset on PostgreSQL."""
    pg = session.connection().dialect.name == "postgresql"
    return at.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if pg else "")


def _canonical(value: object) -> str:  # as audit.service writes before/after
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def escalate(session: Session, con: duckdb.DuckDBPyConnection, d: date) -> int:
    """Moves each case whose rule escalates to the rule's stage (validated at load against lifecycle.yaml
    for every stage the rule matches), sets the stage's next action, and appends ``case.stage_moved``."""
    lc = lifecycle()
    targets = pa.Table.from_pylist([
        {"to_stage": s.code, "next_action": s.next_action, "due": d + timedelta(days=s.next_action_days),
         "a_json": _canonical({"next_action": s.next_action, "next_action_due": d + timedelta(days=s.next_action_days),
                               "stage": s.code})} for s in lc.stages],
        schema=pa.schema([("to_stage", pa.string()), ("next_action", pa.string()), ("due", pa.date32()),
                          ("a_json", pa.string())]))
    con.register("targets", targets)
    moves = con.sql("""
        SELECT f.case_id AS id, f.borrower_id, t.to_stage, t.next_action, t.due,
               '{"stage":"' || f.stage || '"}' AS b_json, t.a_json
        FROM decided x JOIN actions a USING (rule_no) JOIN facts f USING (case_id)
        JOIN targets t ON t.to_stage = a.to_stage
        WHERE a.do = 'escalate' ORDER BY f.case_id""").to_arrow_table()
    if moves.num_rows == 0:
        return 0
    temp_table(session, "strategy_moves", "id BIGINT PRIMARY KEY, borrower_id BIGINT, to_stage VARCHAR(20), next_action "
                                          "VARCHAR(200), due DATE, b_json VARCHAR(400), a_json VARCHAR(400)")
    insert_arrow(session, "strategy_moves", moves)
    session.execute(text("""
        UPDATE cases SET stage = (SELECT m.to_stage FROM strategy_moves m WHERE m.id = cases.id),
               next_action = (SELECT m.next_action FROM strategy_moves m WHERE m.id = cases.id),
               next_action_due = (SELECT m.due FROM strategy_moves m WHERE m.id = cases.id),
               version = version + 1
        WHERE status = 'open' AND id IN (SELECT id FROM strategy_moves)"""))
    _case_events(session, "strategy_moves", "case.stage_moved", d, before="b_json")
    return moves.num_rows


def create_tasks(session: Session, con: duckdb.DuckDBPyConnection, d: date, now: datetime) -> int:
    """One work task per case whose rule calls, visits or sends a lawyer letter, in the rule's team's queue,
    with the case's skills (borrower language, product, stage after any escalation of the same rule)."""
    tasks = con.sql(f"""
        SELECT f.case_id, f.loan_id, f.borrower_id, DATE '{d.isoformat()}' AS business_date,
               CASE a.do WHEN 'lawyer_letter' THEN 'letter' ELSE a.do END AS kind, a.team,
               COALESCE(f.language, 'zh-CN') AS language, f.product_code, COALESCE(e.to_stage, f.stage) AS stage,
               r.rule, 'open' AS status, 1 AS version, '{stored_at(session, now)}' AS created_at
        FROM decided x JOIN actions a USING (rule_no) JOIN facts f USING (case_id) JOIN rules r USING (rule_no)
        LEFT JOIN actions e ON e.rule_no = x.rule_no AND e.do = 'escalate'
        WHERE a.do IN ('call', 'visit', 'lawyer_letter') ORDER BY f.case_id""").to_arrow_table()
    if tasks.num_rows == 0:
        return 0
    insert_arrow(session, "work_tasks", tasks)
    con.register("new_tasks", tasks)
    events = con.sql("""
        SELECT case_id AS id, borrower_id, '{"business_date":"' || CAST(business_date AS VARCHAR) || '","kind":"'
               || kind || '","rule":"' || rule || '","stage":"' || stage || '","team":"' || team || '"}' AS a_json
        FROM new_tasks ORDER BY case_id""").to_arrow_table()
    temp_table(session, "strategy_task_events", "id BIGINT PRIMARY KEY, borrower_id BIGINT, a_json VARCHAR(400)")
    insert_arrow(session, "strategy_task_events", events)
    _case_events(session, "strategy_task_events", "task.created", d)
    return tasks.num_rows


def _case_events(session: Session, table: str, action: str, d: date, *, before: str = "NULL") -> None:
    """One event per row of the temp ``table`` (id = case id, borrower_id, a_json, and ``before``) on the case's
    chain, after its last event; then drops the table. Codes in the JSON are validated names (no quoting)."""
    cols = "s.id, s.borrower_id, s.a_json" + (f", s.{before}" if before != "NULL" else "")
    append_events(session, subject="case", table=table, cols=cols, action=action, actor=ACTOR,
                  reason=f"strategy rule, end of day {d.isoformat()}", before=before, after="a_json")
    session.execute(text(f"DROP TABLE {table}"))
