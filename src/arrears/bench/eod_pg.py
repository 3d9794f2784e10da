"""The end-of-day database round trip on PostgreSQL: the generated portfolio is loaded (COPY) into a fresh
schema (COPY BINARY through ADBC with the secondary indexes and keys built after), then one run is timed as
the service does it — read the inputs (``io.read_inputs``: COPY BINARY into Arrow), run the engine, write the
results (``store.write_results``: COPY and UPDATE … FROM) and meanwhile the snapshot partition and the inputs
read — and the schema is dropped. Before the next day's run 1 % of the loans pay (journal entry, allocation,
instalment total), and that run reads, as the service does, only the loans changed since the first run's
watermark beside what the first run read (``io.KeptInputs``); a full read, untimed, checks it."""

from __future__ import annotations

import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text

from arrears.calendar import default_calendar
from arrears.db.bulk import secondary_indexes
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.models import metadata
from arrears.delinquency import engine
from arrears.delinquency.due_dates import build_due_dates
from arrears.delinquency.io import KeptInputs, read_inputs
from arrears.delinquency.model import EngineInputs
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import write_results
from arrears.delinquency.watermark import changed_since, journal_watermark
from arrears.products.catalog import Catalog

BATCH = 500_000  # rows per Arrow batch streamed from DuckDB into COPY BINARY while loading
LOADED = ("borrowers", "loans", "instalments", "payment_allocations")


def _deferred(c, tables: tuple[str, ...]) -> list[str]:  # noqa: ANN001
    """Drops the secondary indexes, unique and foreign keys of ``tables`` and returns the DDL recreating them:
    a foreign key checked row by row (a trigger per row) and index inserts in random order are what made the
    load take 20 minutes; built once after the load they are one sort or one join each."""
    names = ", ".join(f"'{t}'" for t in tables)
    constraints = c.execute(text(f"""
        SELECT cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid) FROM pg_constraint co
        JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE n.nspname = current_schema() AND cl.relname IN ({names}) AND co.contype IN ('u', 'f')""")).all()
    indexes = secondary_indexes(c, tables)
    for table, name, _, _ in constraints:
        c.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        c.execute(text(f'DROP INDEX "{name}"'))
    # NOT VALID: enforced for every row written from now on (the round trip's); the generated rows are
    # consistent by construction, and validating 30M rows would only lengthen the load.
    return ([definition for _, definition in indexes]
            + [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, k, d in constraints if k == "u"]
            + [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d} NOT VALID' for t, n, k, d in constraints if k == "f"])


def _ingest(con: duckdb.DuckDBPyConnection, dsn: str, schema: str, table: str, query: str) -> None:
    """Streams ``query``'s rows from DuckDB into ``table`` with COPY BINARY (ADBC), cast to the table's types."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(dsn, autocommit=True) as conn:
        target = conn.adbc_get_table_schema(table, db_schema_filter=schema)
        reader = con.cursor().sql(query).to_arrow_reader(BATCH)
        wanted = pa.schema([target.field(name) for name in reader.schema.names])
        batches = (batch.cast(wanted) for batch in reader)
        with conn.cursor() as cur:
            cur.adbc_ingest(table, pa.RecordBatchReader.from_batches(wanted, batches), mode="append",
                            db_schema_name=schema)


def _load(con: duckdb.DuckDBPyConnection, db, dsn: str, schema: str, now: datetime) -> None:  # noqa: ANN001
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
                          i.penalty_settled_fen AS penalty_paid_fen, 0::BIGINT AS penalty_due_fen,
                          0::BIGINT AS principal_waived_fen, 0::BIGINT AS interest_waived_fen,
                          0::BIGINT AS penalty_waived_fen, 0::BIGINT AS fee_waived_fen, 0::BIGINT AS cost_waived_fen
                          FROM bench_instalments i JOIN bench_loans l USING (loan_id) ORDER BY i.loan_id, i.seq""",
        "payment_allocations": """SELECT row_number() OVER (ORDER BY s.loan_id, s.seq, s.value_date) AS id,
                                  'payment' AS source, s.loan_id, s.loan_id * 64 + s.seq AS instalment_id,
                                  s.component, s.amount_fen, s.value_date,
                                  s.value_date > i.due_on OR s.value_date < l.disbursed_on AS one_by_one
                                  FROM bench_settlements s JOIN bench_instalments i USING (loan_id, seq)
                                  JOIN bench_loans l USING (loan_id)""",
    }
    with db.begin() as c:
        restore = _deferred(c, LOADED)
    for table in ("borrowers", "loans"):
        _ingest(con, dsn, schema, table, queries[table])
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two big tables side by side: one backend each
        for future in [pool.submit(_ingest, con, dsn, schema, t, queries[t])
                       for t in ("instalments", "payment_allocations")]:
            future.result()
    with db.begin() as c:
        c.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        for ddl in restore:
            c.execute(text(ddl))
        for table in LOADED:  # the ids were given: the sequences go on after them
            c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))
    with db.connect() as c:  # as autovacuum would leave them: hint bits set, visibility map, statistics
        c = c.execution_options(isolation_level="AUTOCOMMIT")
        for table in LOADED:
            c.execute(text(f"VACUUM ANALYZE {table}"))


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
        say("loading the portfolio into PostgreSQL (COPY BINARY, indexes and keys after) …")
        start = time.perf_counter()
        with db.connect() as c:
            dsn = c.connection.driver_connection.info.dsn
        _load(con, db, dsn, schema, datetime.now(timezone.utc))
        figures["pg_load_s"] = round(time.perf_counter() - start, 3)
        with tempfile.TemporaryDirectory(prefix="arrears-eod-bench-") as tmp:
            store, previous, before = SnapshotStore(Path(tmp)), EngineInputs.empty_previous(), None
            # The first run (every state and penalty new), then the next calendar day against it (the daily
            # case: 1 % of the loans paid, each state rewritten, the penalties of the overdue instalments grown).
            for prefix, day in (("pg", business_date), ("pg_next", business_date + timedelta(days=1))):
                if before is not None:
                    figures["pg_next_paying_loans"] = _day_payments(factory, day)
                say(f"round trip {day}: read, engine, write …")
                previous, before = _round_trip(factory, store, day, previous, before, cat, figures, prefix)
    finally:
        db.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return figures


def _day_payments(factory, day: date) -> int:  # noqa: ANN001
    """1 % of the loans pay the interest still owed on their first instalment that owes some, value date ``day``:
    an entry in the journal, an allocation, the instalment's total — what the next run must read again."""
    with unit_of_work(factory) as session:
        return session.execute(text("""
            WITH target AS (
                SELECT DISTINCT ON (i.loan_id) i.id, i.loan_id, i.borrower_id, i.due_on,
                       i.interest_due_fen - i.interest_paid_fen AS amount_fen
                FROM instalments i WHERE i.loan_id % 100 = 7 AND i.interest_paid_fen < i.interest_due_fen
                ORDER BY i.loan_id, i.seq),
            e AS (INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, memo, created_at)
                  SELECT loan_id, borrower_id, 'payment', :d, 'bench payment', now() FROM target
                  RETURNING id, loan_id),
            a AS (INSERT INTO payment_allocations (source, entry_id, loan_id, instalment_id, component, amount_fen,
                                                   value_date, one_by_one)
                  SELECT 'payment', e.id, t.loan_id, t.id, 'interest', t.amount_fen, :d, :d > t.due_on
                  FROM target t JOIN e USING (loan_id))
            UPDATE instalments i SET interest_paid_fen = i.interest_due_fen FROM target t WHERE i.id = t.id"""),
            {"d": day}).rowcount


def _sorted(tables) -> list[pa.Table]:  # noqa: ANN001
    keys = (["loan_id"], ["loan_id", "seq"], ["loan_id", "seq", "value_date", "component", "amount_fen"])
    return [t.sort_by([(k, "ascending") for k in key]) for t, key in zip(tables, keys)]


def _round_trip(factory, store: SnapshotStore, day: date, previous, before, cat: Catalog, figures: dict,  # noqa: ANN001
                prefix: str):  # noqa: ANN202
    """One run as the service does it (watermark, read — only what changed when the previous run is ``before`` —,
    engine, snapshot file, kept inputs, write, commit), timed by step. Returns the snapshot and (date, watermark)."""
    start = time.perf_counter()
    with unit_of_work(factory) as session:
        mark = journal_watermark(session)
    with unit_of_work(factory) as session:
        kept = None
        if before is not None:
            p_day, p_mark = before
            kept = KeptInputs(**store.read_inputs(p_day), changed=changed_since(session, p_mark, p_day, day))
            figures[f"{prefix}_changed_loans"] = len(kept.changed)
        loans, instalments, settlements = read_inputs(session, day, kept=kept)
        del kept  # as the service does: P's rows are not held through the run
    due = build_due_dates(pc.unique(instalments.column("due_on")).to_pylist(), day, default_calendar())
    read_s = time.perf_counter() - start
    if before is not None:  # untimed: the read of only what changed is a full read
        with unit_of_work(factory) as session:
            full = read_inputs(session, day)
        figures[f"{prefix}_read_equals_full"] = all(
            a.equals(b) for a, b in zip(_sorted((loans, instalments, settlements)), _sorted(full)))
        del full
    start = time.perf_counter()
    outputs = engine.run(EngineInputs(loans, instalments, settlements, due, previous), day, cat)
    engine_s, start = time.perf_counter() - start, time.perf_counter()
    laps: dict = {}
    with ThreadPoolExecutor(max_workers=1) as files, unit_of_work(factory) as session:  # as the service does
        written_files = files.submit(store.write_run, day, outputs, (loans, instalments, settlements),
                                     keep=before[0] if before else None)
        del loans, instalments, settlements
        written = write_results(session, day, outputs, started_at=datetime.now(timezone.utc), summary={}, laps=laps)
        waited = time.perf_counter()
        written_files.result()
        before_commit = time.perf_counter()
        laps["files_wait_ms"] = round((before_commit - waited) * 1000)  # the files outlasting the database's part
    end = time.perf_counter()
    write_s = end - start
    figures.update({f"{prefix}_read_s": round(read_s, 3), f"{prefix}_engine_s": round(engine_s, 3),
                    f"{prefix}_write_s": round(write_s, 3), f"{prefix}_round_trip_s": round(read_s + engine_s + write_s, 3),
                    f"{prefix}_penalty_changes": written["penalty_changes"],
                    f"{prefix}_write_steps_ms": {**laps, "commit_ms": round((end - before_commit) * 1000)}})
    return outputs.snapshot, (day, mark)
