"""From a full settlement history to the engine's inputs for one business date (docs/eod.md, Inputs).

The engine takes each instalment's settled totals as of D and only the settlements it must see one by one.
A database keeps the totals on the instalments (``io.py``); a generated portfolio or a file of payment
history has every settlement, and this turns it into the same inputs, set-based in DuckDB.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from arrears.delinquency.model import INSTALMENTS, SETTLEMENTS, conform

DUE = pa.schema([f for f in INSTALMENTS if not f.name.endswith("_settled_fen")])  # a schedule, nothing paid
DUE_COLUMNS = DUE.names
HISTORY = pa.schema([f for f in SETTLEMENTS if f.name != "due_on"])  # every settlement, any value date


def settled_sums(alias: str = "s") -> str:
    """SQL: the five per-component sums of settlement rows ``alias`` (amount_fen, component)."""
    return ", ".join(f"sum(CASE WHEN {alias}.component = '{c}' THEN {alias}.amount_fen ELSE 0 END) AS {c}_settled_fen"
                     for c in ("principal", "interest", "fee", "cost", "penalty"))


def from_history(loans: pa.Table, instalments: pa.Table, settlements: pa.Table,
                 business_date: date, *, every: bool = False) -> tuple[pa.Table, pa.Table]:
    """(instalments with their settled totals as of ``business_date``, the settlements the engine sees one
    by one) from the loans, the instalments' due amounts and every settlement (any value date).
    ``every``: pass every settlement one by one (the contract allows more rows; the result is the same)."""
    d = f"DATE '{business_date.isoformat()}'"
    con = duckdb.connect()
    con.register("l", loans.select(["loan_id", "disbursed_on"]))
    con.register("i", instalments.select(DUE_COLUMNS))
    con.register("s", conform(settlements, HISTORY))
    totals = con.sql(f"""
        SELECT i.*, {', '.join(f'coalesce(t.{c}_settled_fen, 0) AS {c}_settled_fen'
                                for c in ('principal', 'interest', 'fee', 'cost', 'penalty'))}
        FROM i LEFT JOIN (SELECT loan_id, seq, {settled_sums()} FROM s WHERE value_date <= {d}
                          GROUP BY loan_id, seq) t ON t.loan_id = i.loan_id AND t.seq = i.seq""").to_arrow_table()
    # A seq named twice by the instalments (a broken schedule) matches by its first due date.
    one_by_one = con.sql(f"""
        SELECT s.loan_id, s.seq, i.due_on, s.component, s.amount_fen, s.value_date FROM s
        LEFT JOIN (SELECT loan_id, seq, min(due_on) AS due_on FROM i GROUP BY loan_id, seq) i
               ON i.loan_id = s.loan_id AND i.seq = s.seq
        LEFT JOIN l ON l.loan_id = s.loan_id
        WHERE {str(every).upper()} OR i.due_on IS NULL OR s.value_date > i.due_on OR s.value_date < l.disbursed_on
           OR s.component NOT IN ('principal', 'interest', 'fee', 'cost', 'penalty')""").to_arrow_table()
    return conform(totals, INSTALMENTS), conform(one_by_one, SETTLEMENTS)
