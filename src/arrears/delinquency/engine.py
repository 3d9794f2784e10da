"""The columnar end-of-day engine (docs/eod.md): the SQL of ``arrears.delinquency.sql`` run by DuckDB over the
Arrow input tables. Python only prepares the catalogue tables (a loop over distinct products and rates) and
reads the four outputs back; there is no Python loop over loans or instalments.

The same statements run on Spark through sqlglot (``arrears.delinquency.spark``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from itertools import pairwise

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from arrears.delinquency import continued, sql
from arrears.delinquency.model import (
    DUE_DATES,
    INSTALMENTS,
    LOANS,
    PENALTIES,
    REJECTED,
    SETTLEMENTS,
    SNAPSHOT,
    TRANSITIONS,
    Carry,
    EngineInputs,
    EngineOutputs,
    conform,
)
from arrears.delinquency.sql import carry, catalogue
from arrears.errors import InvalidInput
from arrears.products.catalog import Catalog

INPUT_SCHEMAS = {"eod_loans": LOANS, "eod_instalments": INSTALMENTS, "eod_settlements": SETTLEMENTS,
                 "eod_due_dates": DUE_DATES, "eod_previous": SNAPSHOT}
OUTPUT_SCHEMAS = {"snapshot": SNAPSHOT, "penalties": PENALTIES, "transitions": TRANSITIONS, "rejected": REJECTED}
CHUNK_LOANS = 2_000_000  # loans per DuckDB pass: bounds the memory of a large portfolio


def check_business_date(business_date: date, today: date | None) -> None:
    if today is not None and business_date > today:
        raise InvalidInput(detail=f"business date {business_date} is after today ({today})",
                           field="business_date", rule="business_date_not_future")


def input_tables(inputs: EngineInputs) -> dict[str, pa.Table]:
    """The engine's inputs under the names the SQL reads, with exactly the doc's columns and types."""
    tables = (inputs.loans, inputs.instalments, inputs.settlements, inputs.due_dates, inputs.previous)
    return {name: conform(table, INPUT_SCHEMAS[name]) for name, table in zip(INPUT_SCHEMAS, tables)}


def catalogue_tables(loans: pa.Table, catalog: Catalog) -> dict[str, pa.Table]:
    """eod_params for the distinct (product_code, annual_rate) pairs of ``loans`` (a missing one as ''),
    eod_grades, eod_levels and eod_names."""
    distinct = loans.select(["product_code", "annual_rate"]).group_by(["product_code", "annual_rate"]).aggregate([])
    pairs = sorted({(row["product_code"] or "", row["annual_rate"] or "") for row in distinct.to_pylist()})
    return {"eod_params": catalogue.params_table(pairs, catalog), **_levels_of(catalog)}


_LEVELS: list = [None, {}]  # the last catalogue's level tables: every range and date of a run has the same one


def _levels_of(catalog: Catalog) -> dict[str, pa.Table]:
    """eod_grades, eod_levels and eod_names of ``catalog`` (the grades are a loop over products × days: made once)."""
    if _LEVELS[0] is not catalog:
        _LEVELS[:] = [catalog, {"eod_grades": catalogue.grades_table(catalog), "eod_levels": catalogue.levels_table(catalog),
                                "eod_names": catalogue.names_table(catalog)}]
    return _LEVELS[1]


def decode_outputs(raw: dict[str, pa.Table], catalog: Catalog) -> dict[str, pa.Table]:
    """The four outputs with the model's schemas, the snapshot's product and level numbers (``sql.CODED``)
    turned into their codes by one vectorised lookup each."""
    names = pa.array(catalogue.names(catalog), pa.string())
    snapshot = raw["snapshot"]
    for column in sql.CODED:
        snapshot = snapshot.set_column(snapshot.schema.get_field_index(column), column,
                                       pc.take(names, snapshot.column(column)))
    return {name: conform(snapshot if name == "snapshot" else table, OUTPUT_SCHEMAS[name])
            for name, table in raw.items()}


def missing_due_dates(loan_id: int) -> InvalidInput:
    return InvalidInput(detail=f"due_dates has no effective date for a due date of loan {loan_id} on or before "
                               "the business date", field="due_dates", rule="due_dates_complete")


@functools.cache
def database() -> duckdb.DuckDBPyConnection:
    """The in-memory DuckDB the runs work in, one per process: a run opens a cursor on it (≈ 0.02 ms; its temp and
    registered tables are its own and go when it closes) instead of a database of its own (≈ 10 ms to open, 1–2 to
    close: paid by every range of a large portfolio, and its memory taken from the system again each time)."""
    db = duckdb.connect()
    db.execute("SET preserve_insertion_order = false")  # every output has its ORDER BY
    return db


def execute(db: duckdb.DuckDBPyConnection, step: sql.Step) -> tuple[str, str]:
    """Stores one step as a temp table (or view); returns (kind, name) for the clean-up."""
    kind = "VIEW" if step.view else "TABLE"
    db.execute(f"CREATE OR REPLACE TEMP {kind} {step.name} AS {step.sql}")
    return kind, step.name


def chunk_bounds(db: duckdb.DuckDBPyConnection, chunk_loans: int) -> list[tuple[int | None, int | None]]:
    """loan_id ranges [lo, hi) of about ``chunk_loans`` loans each (None: open), cut at the loans' ntiles."""
    (count,), = db.sql("SELECT count(*) FROM eod_loans_all").fetchall()
    parts = -(-count // max(1, chunk_loans))
    if parts <= 1:
        return [(None, None)]
    cuts = [lo for (lo,) in db.sql(
        f"SELECT min(loan_id) FROM (SELECT loan_id, ntile({parts}) OVER (ORDER BY loan_id) AS part "
        "FROM eod_loans_all WHERE loan_id IS NOT NULL) t GROUP BY part ORDER BY part").fetchall()]
    edges = [None, *sorted(set(cuts[1:])), None]
    return list(pairwise(edges))


def _select_chunk(db: duckdb.DuckDBPyConnection, lo: int | None, hi: int | None) -> None:
    """Points the SQL's input names at one chunk of loans (all of due_dates)."""
    where = " AND ".join([f"loan_id >= {lo}"] * (lo is not None) + [f"loan_id < {hi}"] * (hi is not None))
    for name in INPUT_SCHEMAS:
        condition = f" WHERE {where}" if where and name != "eod_due_dates" else ""
        db.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_all{condition}")


def run(inputs: EngineInputs, business_date: date, catalog: Catalog, *,
        con: duckdb.DuckDBPyConnection | None = None, today: date | None = None,
        chunk_loans: int = CHUNK_LOANS, on_step: Callable[[str], None] | None = None,
        keep: bool = False) -> EngineOutputs:
    """The EOD run for ``business_date`` (docs/eod.md); ``today``, if given, refuses a business date after it.

    Loans are taken in loan_id ranges of about ``chunk_loans`` (every output is per loan, so the ranges'
    outputs simply follow each other): memory stays bounded by the chunk, not the portfolio. On a connection
    of the caller's the run's temp tables and views are dropped afterwards; without one it uses a cursor of its own
    on ``database()``. ``on_step`` is called with each step's name when it is done (profiling). With ``keep`` the
    outputs carry what the next date's incremental run continues from (``model.Carry``, ``sql/carry.py``)."""
    check_business_date(business_date, today)
    own = con is None
    db = database().cursor() if own else con
    assert db is not None
    created: list[tuple[str, str]] = []
    sources = [f"{name}_all" for name in INPUT_SCHEMAS]
    try:
        tables = input_tables(inputs)
        for name, table in tables.items():
            db.register(f"{name}_all", table)
        for name, table in catalogue_tables(tables["eod_loans"], catalog).items():
            db.register(name, table)
        steps = sql.steps(business_date, catalog.restructuring, catalogue.top_dpd(catalog))
        parts: list[dict[str, pa.Table]] = []
        kept: list[dict[str, pa.Table]] = []
        for lo, hi in chunk_bounds(db, chunk_loans):
            _select_chunk(db, lo, hi)
            created += [("VIEW", name) for name in INPUT_SCHEMAS]
            for step in steps:
                created.append(execute(db, step))
                if on_step is not None:
                    on_step(step.name)
            missing = db.sql(sql.MISSING_DUE_DATES).fetchall()
            if missing:
                raise missing_due_dates(missing[0][0])
            parts.append(decode_outputs({name: db.sql(query).to_arrow_table() for name, query in sql.OUTPUTS.items()},
                                        catalog))
            if keep:
                created.append(("TABLE", "kept_di_rows"))
                db.execute(carry.keep_di_rows())
                kept.append({name: db.sql(query).to_arrow_table() for name, query in carry.keep_sql(sql.date_literal(business_date)).items()})
        kept_run = None
        if keep:
            kept_run = Carry(business_date, pre=pa.concat_tables([k["pre"] for k in kept]),
                             di=continued.laid_out(pa.concat_tables([k["di"] for k in kept])),
                             params=db.sql("SELECT * FROM eod_params").to_arrow_table(),
                             due=db.sql("SELECT * FROM eod_due").to_arrow_table())
        return EngineOutputs(**{name: pa.concat_tables([part[name] for part in parts]) for name in OUTPUT_SCHEMAS},
                             carry=kept_run)
    finally:
        if own:
            db.close()
        else:
            for kind, name in dict.fromkeys(reversed(created)):
                db.execute(f"DROP {kind} IF EXISTS {name}")
            for name in [*sources, *sql.CATALOGUE]:
                db.unregister(name)
