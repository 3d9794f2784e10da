"""`arrears bench cases`: strategy evaluation after end of day for N open cases (facts and events generated
set-based in DuckDB, as bench/portfolio.py does for loans), the compliance guard (``run_guard_bench``), and
optionally ``run_strategy`` end to end on a fresh SQLite database with M cases (reading the facts, deciding,
escalating, creating and assigning tasks, the guard on the messages, all writes)."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from arrears.bench.common import peak_rss_bytes
from arrears.compliance.bench import run_guard_bench
from arrears.compliance.policy import packaged_profiles
from arrears.strategy.config import strategy
from arrears.strategy.evaluate import evaluate

BUSINESS_DATE = date(2026, 10, 31)
_PRODUCTS = "['consumer_loan', 'inclusive_loan', 'internet_loan', 'micro_business_loan', 'credit_card']"
_STAGES = "['preparation', 'reminder', 'reminder', 'phone', 'phone', 'phone', 'field_visit', 'legal']"
_EVENTS = "['became_overdue', 'bucket_up', 'bucket_down', 'class_changed', 'promise_broken', 'promise_kept']"


def generate(con: duckdb.DuckDBPyConnection, n: int, d: date = BUSINESS_DATE) -> None:
    """Tables bench_cases (the strategy's case facts) and bench_events (about 12 % of cases have one)."""
    con.execute(f"""
        CREATE OR REPLACE TABLE bench_cases AS
        WITH g AS (SELECT i, 1 + (hash(i * 3) % 400)::BIGINT AS dpd FROM range(1, {n} + 1) t(i))
        SELECT i::BIGINT AS case_id, i::BIGINT AS loan_id, (i // 2)::BIGINT AS borrower_id,
               {_PRODUCTS}[1 + (hash(i) % 5)::INT] AS product_code, {_STAGES}[1 + (hash(i * 7) % 8)::INT] AS stage,
               CAST(DATE '{d.isoformat()}' - INTERVAL 1 DAY * (hash(i * 5) % 120)::INT AS DATE) AS opened_on,
               CASE WHEN dpd <= 30 THEN 'mild' WHEN dpd <= 60 THEN 'moderate' ELSE 'severe' END AS bucket,
               CASE WHEN dpd <= 30 THEN 'mild' WHEN dpd <= 60 THEN 'moderate' ELSE 'severe' END AS tier,
               'M' || LEAST(7, (dpd + 29) // 30)::VARCHAR AS m_bucket, dpd,
               (10000 + hash(i * 11) % 5000000)::BIGINT AS total_outstanding_fen,
               CASE WHEN hash(i * 13) % 2 = 0 THEN (hash(i * 17) % 1000)::BIGINT END AS risk_score,
               hash(i * 19) % 100 = 0 AS open_complaint, hash(i * 23) % 20 = 0 AS promise_open,
               'zh-CN' AS language, 'Asia/Shanghai' AS timezone
        FROM g""")
    con.execute(f"""
        CREATE OR REPLACE TABLE bench_events AS
        SELECT case_id, {_EVENTS}[1 + (hash(case_id * 29) % 6)::INT] AS kind FROM bench_cases
        WHERE hash(case_id * 31) % 100 < 12""")


def run_cases_bench(n: int, *, guard_requests: int = 20_000, db_cases: int = 0, progress=None) -> dict:  # noqa: ANN001
    say = progress.print if progress else (lambda *_: None)
    config = strategy()
    con = duckdb.connect()
    say(f"generating {n:,} open cases …")
    generate(con, n)
    cases = con.sql("SELECT * FROM bench_cases").to_arrow_table()
    events = con.sql("SELECT * FROM bench_events").to_arrow_table()
    con.close()
    say("evaluating the strategy …")
    evaluate(cases.slice(0, 1000), events.slice(0, 100), config, BUSINESS_DATE)  # warm up
    start = time.perf_counter()
    decided = evaluate(cases, events, config, BUSINESS_DATE)
    seconds = time.perf_counter() - start
    figures: dict = {"strategy_cases": decided.num_rows, "strategy_s": round(seconds, 3),
                     "strategy_events": events.num_rows,
                     "strategy_matched": decided.num_rows - decided.column("rule_no").null_count,
                     "challenger_cases": int(pc.sum(pc.not_equal(decided.column("strategy"),
                                                                 config.champion.name)).as_py() or 0)}
    say(f"compliance guard on {guard_requests:,} requests …")
    guard = run_guard_bench(guard_requests)
    figures.update({"guard_requests": guard["requests"], "guard_bulk_per_s": guard["guard_bulk_per_s"],
                    "guard_single_p99_ms": guard["guard_single_p99_ms"]})
    if db_cases:
        say(f"run_strategy end to end on SQLite with {db_cases:,} cases …")
        figures.update(_database_run(db_cases))
    figures["peak_rss_bytes"] = peak_rss_bytes()
    return figures


def _database_run(n: int) -> dict:
    """``run_strategy`` on a fresh SQLite database holding n open cases (rows written set-based)."""
    from arrears.db.bulk import insert_arrow
    from arrears.db.engine import make_engine, make_session_factory, unit_of_work
    from arrears.db.models import metadata
    from arrears.strategy.service import run_strategy

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        metadata.create_all(engine)
        con = duckdb.connect()
        generate(con, n)
        d = BUSINESS_DATE.isoformat()
        tables = {
            "borrowers": f"""SELECT DISTINCT borrower_id AS id, 'B' || borrower_id::VARCHAR AS borrower_no,
                    '\\x00'::BLOB AS name_enc, '\\x00'::BLOB AS id_number_enc, 'x' || borrower_id::VARCHAR AS id_number_digest,
                    '\\x00'::BLOB AS phone_enc, 'p' || borrower_id::VARCHAR AS phone_digest, '' AS region_code,
                    'Asia/Shanghai' AS timezone, 'zh-CN' AS language, '{d} 00:00:00.000000' AS created_at
                    FROM bench_cases""",
            "loans": f"""SELECT loan_id AS id, 'L' || loan_id::VARCHAR AS loan_no, borrower_id, product_code,
                    'equal_instalment' AS repayment_method, total_outstanding_fen AS principal_fen,
                    '0.12' AS annual_rate, 12 AS term, DATE '2026-01-01' AS disbursed_on,
                    DATE '2026-02-01' AS first_due_on, 'active' AS status, 0 AS credit_fen, FALSE AS restructured,
                    1 AS version, '{d} 00:00:00.000000' AS created_at FROM bench_cases""",
            "cases": f"""SELECT case_id AS id, loan_id, borrower_id, stage, 'open' AS status, opened_on,
                    '' AS next_action, 1 AS version, '{d} 00:00:00.000000' AS created_at FROM bench_cases""",
            "loan_delinquency": f"""SELECT loan_id, borrower_id, DATE '{d}' AS business_date, product_code, dpd,
                    0::BIGINT AS overdue_principal_fen, 0::BIGINT AS overdue_interest_fen,
                    0::BIGINT AS overdue_fee_fen, 0::BIGINT AS overdue_penalty_fen, 0::BIGINT AS penalty_due_fen,
                    total_outstanding_fen AS outstanding_principal_fen, total_outstanding_fen, bucket, tier,
                    m_bucket, 'special_mention' AS classification, FALSE AS in_observation, FALSE AS fully_paid
                    FROM bench_cases""",
            "delinquency_transitions": f"""SELECT DATE '{d}' AS business_date, e.case_id AS loan_id,
                    e.case_id // 2 AS borrower_id, e.kind, '' AS from_value, '' AS to_value FROM bench_events e
                    WHERE e.kind NOT LIKE 'promise%'"""}
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            for name, sql in tables.items():
                insert_arrow(session, name, con.sql(sql).to_arrow_table())
        con.close()
        strategy(), packaged_profiles()  # policy files load once per process: not part of the run
        start = time.perf_counter()
        with unit_of_work(factory) as session:
            summary = run_strategy(session, BUSINESS_DATE)
        seconds = time.perf_counter() - start
        engine.dispose()
    return {"strategy_db_cases": summary["cases"], "strategy_db_s": round(seconds, 3),
            "strategy_db_tasks": summary["tasks"], "strategy_db_escalated": summary["escalated"],
            "strategy_db_sends": summary["sends_staged"] + summary["sends_refused"]}


__all__ = ["generate", "run_cases_bench", "pa"]
