"""Moving the engine's inputs out of the database and its results back, in bulk.

Reads are one query per table: COPY … TO STDOUT on PostgreSQL (parsed by Arrow's CSV reader), a
cursor on SQLite. Writes go through ``db.bulk`` (COPY / executemany, UPDATE … FROM a temp table).
"""

from __future__ import annotations

import io
from datetime import date

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.delinquency.model import INSTALMENTS, LOANS, SETTLEMENTS, conform

_ACTIVE = "l.status = 'active'"
_LIVE = "(a.payment_id IS NULL OR p.status = 'posted')"  # allocations of payments not reversed, and credit
_COMPONENTS = ("principal", "interest", "fee", "cost", "penalty")
LOANS_SQL = f"""SELECT l.id AS loan_id, l.borrower_id, l.product_code, l.annual_rate, l.principal_fen,
                       l.disbursed_on, l.restructured_on
                FROM loans l WHERE {_ACTIVE} ORDER BY l.id"""
# Settled totals as of D: what the instalment row holds (paid + waived, kept current by every payment,
# reversal and waiver) less the live allocations dated after D (none, unless the run is for a past date).
_LATER = ", ".join(f"sum(CASE WHEN a.component = '{c}' THEN a.amount_fen ELSE 0 END) AS {c}" for c in _COMPONENTS)
_SETTLED = ", ".join(f"i.{c}_paid_fen + i.{c}_waived_fen - coalesce(x.{c}, 0) AS {c}_settled_fen"
                     for c in _COMPONENTS)
INSTALMENTS_SQL = f"""SELECT i.loan_id, i.seq, i.due_on, i.principal_due_fen, i.interest_due_fen, i.fee_due_fen,
                             i.cost_due_fen, {_SETTLED}
                      FROM instalments i JOIN loans l ON l.id = i.loan_id
                      LEFT JOIN (SELECT a.instalment_id, {_LATER}
                                 FROM payment_allocations a LEFT JOIN payments p ON p.id = a.payment_id
                                 WHERE {_LIVE} AND a.value_date > :business_date
                                 GROUP BY a.instalment_id) x ON x.instalment_id = i.id
                      WHERE {_ACTIVE}
                      ORDER BY i.loan_id, i.seq"""
# The settlements the engine sees one by one (docs/eod.md, Inputs): live, dated ≤ D and after their
# instalment's due date (penalty weight), or before the disbursement, or of an unknown component.
SETTLEMENTS_SQL = f"""SELECT a.loan_id, i.seq, i.due_on, a.component, a.amount_fen, a.value_date
                      FROM payment_allocations a
                      JOIN instalments i ON i.id = a.instalment_id
                      JOIN loans l ON l.id = a.loan_id
                      LEFT JOIN payments p ON p.id = a.payment_id
                      WHERE {_ACTIVE} AND {_LIVE} AND a.value_date <= :business_date
                        AND (a.value_date > i.due_on OR a.value_date < l.disbursed_on
                             OR a.component NOT IN ({", ".join(f"'{c}'" for c in _COMPONENTS)}))
                      ORDER BY a.loan_id, i.seq, a.value_date, a.id"""


def _read(session: Session, sql: str, schema: pa.Schema, params: dict | None = None) -> pa.Table:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for key, value in (params or {}).items():  # COPY takes no bind parameters; values here are dates
            sql = sql.replace(f":{key}", f"DATE '{value.isoformat()}'")
        buffer = io.BytesIO()
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER true)") as copy:
            for chunk in copy:
                buffer.write(chunk)
        buffer.seek(0)
        options = pacsv.ConvertOptions(column_types={f.name: f.type for f in schema}, strings_can_be_null=True)
        return conform(pacsv.read_csv(buffer, convert_options=options), schema)
    result = connection.execute(text(sql), params or {})
    rows = result.fetchall()
    columns = list(zip(*rows)) if rows else [[] for _ in schema]
    return pa.table([pa.array(_values(c, f.type), f.type) for c, f in zip(columns, schema)], schema=schema)


def _values(column, kind: pa.DataType) -> list:  # noqa: ANN001
    if pa.types.is_date32(kind):  # SQLite hands dates back as text
        return [date.fromisoformat(v) if isinstance(v, str) else v for v in column]
    return list(column)


def read_inputs(session: Session, business_date: date) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(loans, instalments, settlements) of every active loan, as the engine's input tables."""
    on = {"business_date": business_date}
    return (_read(session, LOANS_SQL, LOANS), _read(session, INSTALMENTS_SQL, INSTALMENTS, on),
            _read(session, SETTLEMENTS_SQL, SETTLEMENTS, on))


def stored_penalties(session: Session, loan_ids: pa.Array | None = None) -> pa.Table:
    """(loan_id, seq, instalment_id, penalty_due_fen) where a penalty is stored, for the run's diff."""
    schema = pa.schema([("loan_id", pa.int64()), ("seq", pa.int32()), ("instalment_id", pa.int64()),
                        ("penalty_due_fen", pa.int64())])
    return _read(session, "SELECT loan_id, seq, id AS instalment_id, penalty_due_fen FROM instalments "
                          "WHERE penalty_due_fen <> 0 ORDER BY loan_id, seq", schema)
