"""Moving the engine's inputs out of the database and its results back, in bulk.

PostgreSQL (with the ADBC driver): plain scans, no ORDER BY and no join (the engine orders its own outputs;
DuckDB does the joins), run two at a time on their own connections in the caller's snapshot, read with COPY
BINARY straight into Arrow (``db.bulk.read_arrow_parallel``); of payment_allocations only the rows flagged
``one_by_one`` (partial index) and the (usually no) rows dated after D that the settled totals must leave out.
Without the driver: COPY … CSV parsed by Arrow's CSV reader. SQLite: a cursor per table.

The next business date (``read_inputs(kept=...)``, the bulk path only): the loans are read in full, the instalments
and settlements only of the loans changed since the last complete run (its watermark, ``watermark.changed_since``)
and of the loans that run did not read; every other loan's rows are the ones that run read (``KeptInputs``, kept
beside its snapshot by ``SnapshotStore.write_inputs``). A loan nothing reached since has the same rows: its totals
and settlements change only through the journal, or by a value date in between, both in ``changed_since``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.bulk import adbc_available, read_arrow_parallel
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


def _values(column, kind: pa.DataType) -> list:
    if pa.types.is_date32(kind):  # SQLite hands dates back as text
        return [date.fromisoformat(v) if isinstance(v, str) else v for v in column]
    return list(column)


# PostgreSQL bulk path (ADBC): the instalments' totals as stored (with their id, in two loan-id ranges read side
# by side), and of the allocations only those the engine needs: the ones it must see one by one (flagged when
# written, ``payment_allocations.one_by_one``, read through its partial index: ≈ 8 % of them) and the ones dated
# after D (an index on value_date; none unless the run is for a past date), whose amounts the settled totals must
# leave out. Every filter that is a join is done in DuckDB, where it is a hash join on both cores: the
# allocations to their instalments (seq, due date), the instalments to the active loans (0.5 of 1.7 server CPU-s
# at 100,000 loans), the allocations to the payments for "not reversed" (the few reversed payments' ids are read
# apart and anti-joined); the rule of the settlements seen one by one is applied there again, exactly as the
# plain query does, to the rows the flag let through.
_PG_LOANS = f"""SELECT l.id AS loan_id, l.borrower_id, l.product_code, l.annual_rate, l.principal_fen,
                       l.disbursed_on, l.restructured_on FROM loans l WHERE {_ACTIVE}"""
_PG_INSTALMENTS = f"""SELECT i.id, i.loan_id, i.seq, i.due_on, i.principal_due_fen, i.interest_due_fen, i.fee_due_fen,
                             i.cost_due_fen, {", ".join(f"i.{c}_paid_fen + i.{c}_waived_fen AS {c}_settled_fen"
                                                        for c in _COMPONENTS)}
                      FROM instalments i WHERE """
_LOAN_RANGE = "i.loan_id >= {low} AND i.loan_id < {high}"
_PG_ALLOCATIONS = """SELECT a.loan_id, a.instalment_id, a.payment_id, a.component, a.amount_fen, a.value_date
                     FROM payment_allocations a WHERE """
_PG_ONE_BY_ONE = _PG_ALLOCATIONS + "a.one_by_one IS NOT FALSE AND a.value_date <= :on"  # its partial index
_PG_LATER = _PG_ALLOCATIONS + "a.value_date > :on"  # disjoint from the above
_PG_NOT_POSTED = "SELECT p.id AS payment_id FROM payments p WHERE p.status <> 'posted'"
_KNOWN = ", ".join(f"'{c}'" for c in _COMPONENTS)


def _of_loans(ids: np.ndarray, alias: str) -> str:
    """SQL: ``alias``'s loan_id is one of ``ids`` (an array literal: COPY takes no bind parameters; integers)."""
    return f"{alias}.loan_id = ANY('{{{','.join(map(str, ids.tolist()))}}}'::bigint[])"


def _pg_inputs(session: Session, business_date: date, ranges: int = 2, *, only: np.ndarray | None = None,
               loans: pa.Table | None = None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The three inputs; with ``only`` the instalments and settlements of those loans alone, beside ``loans``
    (read already)."""
    on = f"DATE '{business_date.isoformat()}'"  # COPY takes no bind parameters; a date literal is safe
    allocations = [q.replace(":on", on) for q in (_PG_ONE_BY_ONE, _PG_LATER)]
    if only is None:
        low, high = session.execute(text("SELECT coalesce(min(id), 0), coalesce(max(id), 0) + 1 FROM loans")).one()
        bounds = [low + (high - low) * k // ranges for k in range(ranges)] + [high]
        # The instalments in loan-id ranges, one per connection; the (small) rest after.
        parts = [_PG_INSTALMENTS + _LOAN_RANGE.format(low=bounds[k], high=bounds[k + 1]) for k in range(ranges)]
    else:
        parts = [_PG_INSTALMENTS + _of_loans(only, "i")]
        allocations = [f"{q} AND {_of_loans(only, 'a')}" for q in allocations]
    extra = [_PG_NOT_POSTED, *[_PG_LOANS] * (loans is None)]
    read = read_arrow_parallel(session, [*extra, *allocations, *parts])  # the big ones last: ids already known
    not_posted, loans = read[0], (read[1] if loans is None else loans)
    one_by_one, later, *chunks = read[len(extra):]
    instalments, allocations = pa.concat_tables(chunks), pa.concat_tables([one_by_one, later])
    con = duckdb.connect()
    con.register("i_all", instalments)
    con.register("a_all", allocations)
    con.register("l", loans)
    con.register("np", not_posted)
    inactive = con.execute("SELECT count(*) FROM i_all ANTI JOIN l USING (loan_id)").fetchone()[0]
    con.execute(f"CREATE TEMP VIEW i AS SELECT * FROM i_all {'SEMI JOIN l USING (loan_id)' if inactive else ''}")
    # Live allocations (not of a reversed payment) of active loans, with their instalment's seq and due date.
    con.execute("""CREATE TEMP TABLE s AS SELECT a.loan_id, i.loan_id AS instalment_loan_id, i.seq, i.due_on,
                          a.component, a.amount_fen, a.value_date, l.disbursed_on
                   FROM a_all a JOIN i ON i.id = a.instalment_id JOIN l ON l.loan_id = a.loan_id
                   WHERE a.payment_id IS NULL OR a.payment_id NOT IN (SELECT payment_id FROM np)""")
    settlements = con.sql(f"""SELECT loan_id, seq, due_on, component, amount_fen, value_date FROM s
                              WHERE value_date <= {on} AND (value_date > due_on OR value_date < disbursed_on
                                                            OR component NOT IN ({_KNOWN}))""").to_arrow_table()
    later = con.sql(f"SELECT instalment_loan_id AS loan_id, seq, "
                    f"{', '.join(f'sum(amount_fen) FILTER (component = {chr(39)}{c}{chr(39)}) AS {c}' for c in _COMPONENTS)} "
                    f"FROM s WHERE value_date > {on} GROUP BY ALL").to_arrow_table()
    if later.num_rows:  # a run for a past date: leave out what was settled after it
        con.register("x", later)
        instalments = con.sql(f"""SELECT i.* REPLACE ({", ".join(
            f"i.{c}_settled_fen - coalesce(x.{c}, 0) AS {c}_settled_fen" for c in _COMPONENTS)})
            FROM i LEFT JOIN x USING (loan_id, seq)""").to_arrow_table()
    elif inactive:  # the instalments of active loans only (copied only when some are not)
        instalments = con.sql("SELECT * FROM i").to_arrow_table()
    return conform(loans, LOANS), conform(instalments, INSTALMENTS), conform(settlements, SETTLEMENTS)


FRESH_SHARE = 4  # read every loan's rows again when more than a quarter of the loans are to be read


@dataclass(frozen=True)
class KeptInputs:
    """What the last complete run read (``loan_ids``: its loans), and ``changed``: the loans changed since."""
    loan_ids: pa.Table
    instalments: pa.Table
    settlements: pa.Table
    changed: pa.Array


def reads_changed_only(session: Session) -> bool:
    """Whether ``read_inputs`` takes ``kept`` (the bulk path): the caller need keep what it read only then."""
    return session.connection().dialect.name == "postgresql" and adbc_available()


def read_inputs(session: Session, business_date: date, *, kept: KeptInputs | None = None
                ) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(loans, instalments, settlements) of every active loan, as the engine's input tables; with ``kept`` (the
    bulk path only) the rows of the loans nothing reached since are ``kept``'s (module text)."""
    if kept is not None and reads_changed_only(session):
        return _read_changed(session, business_date, kept)
    if reads_changed_only(session):
        return _pg_inputs(session, business_date)
    on = {"business_date": business_date}
    return (_read(session, LOANS_SQL, LOANS), _read(session, INSTALMENTS_SQL, INSTALMENTS, on),
            _read(session, SETTLEMENTS_SQL, SETTLEMENTS, on))


def _read_changed(session: Session, business_date: date, kept: KeptInputs) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The loans in full; the instalments and settlements of the loans changed or not read last time, read; the
    others' from ``kept`` (hash look-ups: a sort of 15M rows costs more than the whole read)."""
    (loans,) = read_arrow_parallel(session, [_PG_LOANS])
    loans = conform(loans, LOANS)
    ids, known = loans.column("loan_id"), kept.loan_ids.column("loan_id")
    fresh = ids.filter(pc.or_(pc.is_in(ids, value_set=pa.array(kept.changed, pa.int64())),
                              pc.invert(pc.is_in(ids, value_set=known))))
    if len(fresh) > len(ids) // FRESH_SHARE:  # most of the portfolio: one plain scan beats the look-ups
        return _pg_inputs(session, business_date, loans=loans)
    _, instalments, settlements = _pg_inputs(session, business_date, only=fresh.to_numpy(), loans=loans)
    gone = known.filter(pc.invert(pc.is_in(known, value_set=ids)))  # no longer active
    con = duckdb.connect()  # an anti-join on both cores: Arrow's filter copies 15M rows on one (3 × the time)
    con.register("drop_ids", pa.table({"loan_id": pa.concat_arrays([fresh.combine_chunks(), gone.combine_chunks()])}))
    merged = []
    for old, new, schema in ((kept.instalments, instalments, INSTALMENTS), (kept.settlements, settlements, SETTLEMENTS)):
        con.register("old", old)
        merged.append(pa.concat_tables([
            conform(con.sql("SELECT * FROM old ANTI JOIN drop_ids USING (loan_id)").to_arrow_table(), schema), new]))
    return loans, merged[0], merged[1]


STORED_PENALTIES = pa.schema([("loan_id", pa.int64()), ("seq", pa.int32()), ("instalment_id", pa.int64()),
                              ("penalty_due_fen", pa.int64())])
STORED_PENALTIES_SQL = ("SELECT loan_id, seq, id AS instalment_id, penalty_due_fen FROM instalments "
                        "WHERE penalty_due_fen <> 0")


def stored_penalties(session: Session, loan_ids: pa.Array | None = None) -> pa.Table:
    """(loan_id, seq, instalment_id, penalty_due_fen) where a penalty is stored, for the run's diff."""
    sql = STORED_PENALTIES_SQL
    if session.connection().dialect.name == "postgresql" and adbc_available():
        # Binary COPY in the caller's snapshot: called before the caller writes anything in its transaction.
        return conform(read_arrow_parallel(session, [sql])[0], STORED_PENALTIES)
    return _read(session, sql + " ORDER BY loan_id, seq", STORED_PENALTIES)
