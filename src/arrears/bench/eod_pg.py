"""The end-of-day database round trip on PostgreSQL: the generated portfolio is loaded (COPY) into a fresh
schema, then one run is timed as the service does it — read the inputs (``io.read_inputs``: COPY … TO
STDOUT), run the engine, write the snapshot partition and the results (``store.write_results``: COPY and
UPDATE … FROM) — and the schema is dropped."""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow.compute as pc
from sqlalchemy import text

from arrears.db.bulk import insert_arrow
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.models import metadata
from arrears.delinquency import engine
from arrears.delinquency.due_dates import build_due_dates
from arrears.delinquency.io import read_inputs
from arrears.delinquency.model import EngineInputs
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import write_results
from arrears.calendar import default_calendar
from arrears.products.catalog import Catalog

BATCH = 2_000_000  # rows per COPY while loading


def _load(con: duckdb.DuckDBPyConnection, factory, now: datetime) -> None:  # noqa: ANN001
    ts = f"TIMESTAMPTZ '{now.isoformat()}'"
    queries = {
        "borrowers": f"""SELECT DISTINCT borrower_id AS id, 'B' || borrower_id AS borrower_no, '\\x00'::BLOB AS name_enc,
                         '\\x00'::BLOB AS id_number_enc, md5(borrower_id::VARCHAR) AS id_number_digest,
                         '\\x00'::BLOB AS phone_enc, md5('p' || borrower_id) AS phone_digest, '' AS region_code,
                         'Asia/Shanghai' AS timezone, 'zh-CN' AS language, {ts} AS created_at FROM bench_loans""",
        "loans": f"""SELECT loan_id AS id, 'L' || loan_id AS loan_no, borrower_id, product_code,
                     'equal_principal' AS repayment_method, principal_fen, annual_rate, term, disbursed_on,
                     CAST(disbursed_on + INTERVAL 1 MONTH AS DATE) AS first_due_on, 'active' AS status,
                     0::BIGINT AS credit_fen, FALSE AS restructured, 1 AS version, {ts} AS created_at FROM bench_loans""",
        "instalments": """SELECT i.loan_id * 64 + i.seq AS id, i.loan_id, l.borrower_id, i.seq, i.due_on,
                          i.principal_due_fen, i.interest_due_fen, i.fee_due_fen, i.cost_due_fen,
                          i.principal_settled_fen AS principal_paid_fen, i.interest_settled_fen AS interest_paid_fen,
                          i.fee_settled_fen AS fee_paid_fen, i.cost_settled_fen AS cost_paid_fen,
                          i.penalty_settled_fen AS penalty_paid_fen
                          FROM bench_instalments i JOIN bench_loans l USING (loan_id)""",
        "payment_allocations": """SELECT row_number() OVER () AS id, 'payment' AS source, loan_id,
                                  loan_id * 64 + seq AS instalment_id, component, amount_fen, value_date
                                  FROM bench_settlements""",
    }
    for table, query in queries.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE pg_load AS {query}")
        (rows,), = con.sql("SELECT count(*) FROM pg_load").fetchall()
        for offset in range(0, rows, BATCH):
            batch = con.sql(f"SELECT * FROM pg_load LIMIT {BATCH} OFFSET {offset}").to_arrow_table()
            with unit_of_work(factory) as session:
                insert_arrow(session, table, batch)
    with unit_of_work(factory) as session:
        session.execute(text("ANALYZE"))


def pg_round_trip(con: duckdb.DuckDBPyConnection, url: str, business_date: date, cat: Catalog,
                  progress=None) -> dict:  # noqa: ANN001
    say = progress.print if progress else (lambda *_: None)
    schema = "bench_eod_" + uuid.uuid4().hex[:8]
    admin = make_engine(url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    db = make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")
    figures: dict = {}
    try:
        metadata.create_all(db)
        factory = make_session_factory(db)
        say("loading the portfolio into PostgreSQL (COPY) …")
        start = time.perf_counter()
        _load(con, factory, datetime.now(timezone.utc))
        figures["pg_load_s"] = round(time.perf_counter() - start, 3)
        say("round trip: read, engine, write …")
        with tempfile.TemporaryDirectory(prefix="arrears-eod-bench-") as tmp:
            start = time.perf_counter()
            with unit_of_work(factory) as session:
                loans, instalments, settlements = read_inputs(session, business_date)
            due = build_due_dates(pc.unique(instalments.column("due_on")).to_pylist(), business_date,
                                  default_calendar())
            read = time.perf_counter()
            outputs = engine.run(EngineInputs(loans, instalments, settlements, due, EngineInputs.empty_previous()),
                                 business_date, cat)
            ran = time.perf_counter()
            SnapshotStore(Path(tmp)).write(business_date, outputs.snapshot)
            with unit_of_work(factory) as session:
                written = write_results(session, business_date, outputs, started_at=datetime.now(timezone.utc),
                                        summary={})
            end = time.perf_counter()
        figures.update(pg_read_s=round(read - start, 3), pg_engine_s=round(ran - read, 3),
                       pg_write_s=round(end - ran, 3), pg_round_trip_s=round(end - start, 3),
                       pg_penalty_changes=written["penalty_changes"])
    finally:
        db.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return figures
