"""Queue priority: each open task's expected recovery in fen — its loan's latest propensity score × the amount
overdue — with the score's reason codes, refreshed set-based (one read, DuckDB arithmetic, one UPDATE … FROM of
the rows that changed). Called after every strategy run (new tasks, the day's balances) and after a propensity
scoring run. Integer arithmetic on micro-units of probability: no float touches money."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from arrears.db.bulk import fetch_arrow, update_from_arrow
from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "priority.yaml"
MICRO = 1_000_000


class PriorityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str = Field(min_length=3)
    unscored_propensity: Decimal = Field(ge=0, le=1, decimal_places=6)


@lru_cache(maxsize=1)
def priority_config(path: str | None = None) -> PriorityConfig:
    path_ = Path(path) if path else PACKAGED
    return validate_model(PriorityConfig, read_yaml(path_), path_)  # type: ignore[return-value]


# Open tasks with what they are worth now: the amount overdue, the latest propensity in micro-units (exact on
# both backends: SQLite keeps the probability as REAL, PostgreSQL as NUMERIC) and its reasons.
TASKS_SQL = """
    SELECT t.id, t.priority AS old_priority, t.priority_reasons AS old_reasons,
           COALESCE(d.overdue_principal_fen + d.overdue_interest_fen + d.overdue_fee_fen + d.overdue_penalty_fen, 0)
               AS owed_fen,
           CAST(ROUND(p.probability * 1000000) AS BIGINT) AS p_micro, p.reasons
    FROM work_tasks t
    LEFT JOIN loan_delinquency d ON d.loan_id = t.loan_id
    LEFT JOIN (SELECT s.loan_id, s.probability, s.reasons FROM scores s
               JOIN (SELECT loan_id, max(as_of) AS as_of FROM scores WHERE kind = 'propensity' GROUP BY loan_id) m
                 ON m.loan_id = s.loan_id AND m.as_of = s.as_of
               WHERE s.kind = 'propensity') p ON p.loan_id = t.loan_id
    WHERE t.status = 'open'"""


def priorities(tasks: pa.Table, unscored: Decimal) -> pa.Table:
    """``tasks`` (TASKS_SQL's columns) → ``(id, priority, priority_reasons)`` of the rows whose values change.
    priority = round half up(p_micro × owed_fen / 10⁶); an unscored loan takes ``unscored``."""
    default = int(unscored * MICRO)
    con = duckdb.connect()
    try:
        con.register("t", tasks)
        return con.sql(f"""
            WITH v AS (
                SELECT CAST(id AS BIGINT) AS id,
                       CAST((CAST(COALESCE(p_micro, {default}) AS HUGEINT) * CAST(owed_fen AS HUGEINT) + {MICRO // 2})
                            // {MICRO} AS BIGINT) AS priority,
                       CAST(COALESCE(reasons, '') AS VARCHAR) AS priority_reasons,
                       CAST(old_priority AS BIGINT) AS old_priority, CAST(old_reasons AS VARCHAR) AS old_reasons
                FROM t)
            SELECT id, priority, priority_reasons FROM v
            WHERE priority IS DISTINCT FROM old_priority OR priority_reasons IS DISTINCT FROM old_reasons
            ORDER BY id""").to_arrow_table()
    finally:
        con.close()


def refresh_priorities(session: Session, *, config: PriorityConfig | None = None) -> int:
    """Recomputes every open task's priority and reasons; returns how many changed."""
    config = config or priority_config()
    tasks = fetch_arrow(session, TASKS_SQL)
    if tasks.num_rows == 0:
        return 0
    tasks = pa.table({
        "id": tasks.column("id").cast(pa.int64()), "old_priority": tasks.column("old_priority").cast(pa.int64()),
        "old_reasons": tasks.column("old_reasons").cast(pa.string()),
        "owed_fen": tasks.column("owed_fen").cast(pa.int64()), "p_micro": tasks.column("p_micro").cast(pa.int64()),
        "reasons": tasks.column("reasons").cast(pa.string())})
    changed = priorities(tasks, config.unscored_propensity)
    return update_from_arrow(session, "work_tasks", changed, key="id",
                             assignments="priority = u.priority, priority_reasons = u.priority_reasons",
                             where="AND work_tasks.status = 'open'")
