"""Evaluation without a database: the case facts and the day's events (Arrow) in, one decision per case out
(its arm's strategy and the first matching rule, or none), computed by one DuckDB query.

``CASES`` is what a case carries into the rules; ``EVENTS`` one row per event that happened to the case on the
business date (a delinquency transition kind, or ``promise_broken`` / ``promise_kept``).
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pyarrow as pa

from arrears.strategy.compile import arm_bp_sql, arm_case, events_pivot, quote, rule_case
from arrears.strategy.config import EVENTS, StrategyFile

CASES = pa.schema([
    ("case_id", pa.int64()), ("loan_id", pa.int64()), ("borrower_id", pa.int64()), ("product_code", pa.string()),
    ("stage", pa.string()), ("opened_on", pa.date32()), ("bucket", pa.string()), ("tier", pa.string()),
    ("m_bucket", pa.string()), ("dpd", pa.int64()), ("total_outstanding_fen", pa.int64()),
    ("risk_score", pa.int64()), ("open_complaint", pa.bool_()), ("promise_open", pa.bool_())])
EVENT_ROWS = pa.schema([("case_id", pa.int64()), ("kind", pa.string())])
DECISIONS = pa.schema([("case_id", pa.int64()), ("arm_bp", pa.int64()), ("strategy", pa.string()),
                       ("rule_no", pa.int64())])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly the schema's columns and types (an empty fetch has null-typed columns)."""
    return pa.table({f.name: table.column(f.name).cast(f.type) if table.num_rows else pa.array([], f.type)
                     for f in schema}, schema=schema)


def rules_table(config: StrategyFile) -> pa.Table:
    rows = [{"rule_no": n, "strategy": s.name, "role": s.role, "rule": r.name} for n, s, r in config.rules()]
    return pa.Table.from_pylist(rows, schema=pa.schema([("rule_no", pa.int64()), ("strategy", pa.string()),
                                                         ("role", pa.string()), ("rule", pa.string())]))


def actions_table(config: StrategyFile) -> pa.Table:
    """One row per rule action (global rule number, position, kind and parameters)."""
    rows = [{"rule_no": n, "action_no": k, "do": a.do, "template": a.template,
             "channel": "letter" if a.do == "lawyer_letter" else a.channel, "team": a.team, "to_stage": a.to,
             "variables": json.dumps(a.variables, sort_keys=True)}
            for n, _, r in config.rules() for k, a in enumerate(r.actions)]
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("rule_no", pa.int64()), ("action_no", pa.int64()), ("do", pa.string()), ("template", pa.string()),
        ("channel", pa.string()), ("team", pa.string()), ("to_stage", pa.string()), ("variables", pa.string())]))


def decision_sql(config: StrategyFile, business_date: date, cases: str = "cases", events: str = "events") -> str:
    ev = ", ".join(f"COALESCE(e.ev_{k}, FALSE) AS ev_{k}" for k in EVENTS)
    return f"""
        WITH f AS (
            SELECT c.*, {ev}, DATE {quote(business_date.isoformat())} - c.opened_on AS days_open,
                   {arm_bp_sql(config.experiment)} AS arm_bp
            FROM {cases} c LEFT JOIN ({events_pivot(events)}) e USING (case_id)),
        a AS (SELECT *, {arm_case(config)} AS strategy FROM f)
        SELECT case_id, arm_bp, strategy, {rule_case(config)} AS rule_no FROM a"""


def evaluate(cases: pa.Table, events: pa.Table, config: StrategyFile, business_date: date,
             con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """One row per case (columns ``DECISIONS``): arm bucket, strategy and the matching rule's number."""
    own = con is None
    con = con or duckdb.connect()
    try:
        con.register("cases", conform(cases, CASES))
        con.register("events", conform(events, EVENT_ROWS))
        out = con.sql(decision_sql(config, business_date)).to_arrow_table()
    finally:
        if own:
            con.close()
    return conform(out, DECISIONS)
