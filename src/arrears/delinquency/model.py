"""The engine's contract: its input and output tables (Arrow schemas) as defined in docs/eod.md.

Both implementations — the columnar engine and the per-loan reference — take ``EngineInputs`` and give
``EngineOutputs`` with exactly these schemas, so their results can be compared table for table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa

FEN = pa.int64()

LOANS = pa.schema([
    ("loan_id", pa.int64()), ("borrower_id", pa.int64()), ("product_code", pa.string()),
    ("annual_rate", pa.string()), ("principal_fen", FEN), ("disbursed_on", pa.date32()),
    ("restructured_on", pa.date32()),
])
INSTALMENTS = pa.schema([
    ("loan_id", pa.int64()), ("seq", pa.int32()), ("due_on", pa.date32()), ("principal_due_fen", FEN),
    ("interest_due_fen", FEN), ("fee_due_fen", FEN), ("cost_due_fen", FEN),
    # what was settled (paid, credited, waived) of each component with value_date ≤ D
    ("principal_settled_fen", FEN), ("interest_settled_fen", FEN), ("fee_settled_fen", FEN),
    ("cost_settled_fen", FEN), ("penalty_settled_fen", FEN),
])
SETTLED_COLUMNS = ("principal_settled_fen", "interest_settled_fen", "fee_settled_fen", "cost_settled_fen",
                   "penalty_settled_fen")
# Only the settlements the engine must see one by one (docs/eod.md, Inputs): value_date after their
# instalment's due_on (they may carry penalty weight), before the loan's disbursement, or naming a seq or a
# component the loan does not have. Their amounts are in the instalments' settled totals as well; due_on
# is their instalment's (null when the seq names none).
SETTLEMENTS = pa.schema([
    ("loan_id", pa.int64()), ("seq", pa.int32()), ("due_on", pa.date32()), ("component", pa.string()),
    ("amount_fen", FEN), ("value_date", pa.date32()),
])
DUE_DATES = pa.schema([("holiday_rule", pa.string()), ("due_on", pa.date32()), ("effective_due", pa.date32())])
SNAPSHOT = pa.schema([
    ("business_date", pa.date32()), ("loan_id", pa.int64()), ("borrower_id", pa.int64()),
    ("product_code", pa.string()), ("dpd", pa.int32()), ("overdue_principal_fen", FEN),
    ("overdue_interest_fen", FEN), ("overdue_fee_fen", FEN), ("overdue_penalty_fen", FEN),
    ("penalty_due_fen", FEN), ("outstanding_principal_fen", FEN), ("total_outstanding_fen", FEN),
    ("bucket", pa.string()), ("tier", pa.string()), ("m_bucket", pa.string()), ("classification", pa.string()),
    ("in_observation", pa.bool_()), ("fully_paid", pa.bool_()),
])
PENALTIES = pa.schema([("loan_id", pa.int64()), ("seq", pa.int32()), ("penalty_due_fen", FEN)])
TRANSITIONS = pa.schema([
    ("business_date", pa.date32()), ("loan_id", pa.int64()), ("kind", pa.string()), ("from_value", pa.string()),
    ("to_value", pa.string()),
])
REJECTED = pa.schema([("loan_id", pa.int64()), ("reason", pa.string())])

TRANSITION_KINDS = ("became_overdue", "cured", "bucket_up", "bucket_down", "class_changed", "fully_paid")


@dataclass(frozen=True)
class EngineInputs:
    loans: pa.Table
    instalments: pa.Table
    settlements: pa.Table
    due_dates: pa.Table
    previous: pa.Table  # a SNAPSHOT-shaped table, possibly empty

    @staticmethod
    def empty_previous() -> pa.Table:
        return SNAPSHOT.empty_table()


@dataclass(frozen=True)
class Carry:
    """What a run of ``business_date`` keeps for the next date's incremental run (``sql/carry.py``): the engine's
    date-free rows of its detail loans (``pre``: eod_pre's; ``di``: eod_di's but their date columns) and the
    catalogue rows they are numbered by (``params``: pids; ``due``: the E of every due date ≤ business_date)."""
    business_date: date
    pre: pa.Table
    di: pa.Table
    params: pa.Table
    due: pa.Table


@dataclass(frozen=True)
class EngineOutputs:
    snapshot: pa.Table
    penalties: pa.Table
    transitions: pa.Table
    rejected: pa.Table
    carry: Carry | None = None  # only when asked for (``engine.run(keep=True)``, ``run_incremental``)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly ``schema``'s columns, in order, cast to its types (raises if one is missing)."""
    return pa.table([table.column(f.name).cast(f.type) for f in schema], schema=schema)
