"""`arrears bench eod`: the end-of-day engine on a generated portfolio, against its floor (DuckDB
scanning and grouping the same instalment columns once) and the per-loan reference (timed on a
sample and scaled to N)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import duckdb

from arrears.bench.common import peak_rss_bytes
from arrears.bench.portfolio import as_inputs, describe, generate
from arrears.delinquency import engine, reference
from arrears.products.catalog import catalog

BUSINESS_DATE = date(2026, 10, 31)


def _timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def floor_seconds(con: duckdb.DuckDBPyConnection) -> float:
    """DuckDB scanning and grouping the engine's instalment columns once: the least any engine could do."""
    _, seconds = _timed(lambda: con.sql(
        "SELECT loan_id, count(*), min(due_on), sum(principal_due_fen), sum(interest_due_fen), "
        "sum(fee_due_fen), sum(cost_due_fen) FROM bench_instalments GROUP BY loan_id").to_arrow_table())
    return seconds


def run_eod_bench(n: int, *, sample: int = 2000, incremental: bool = False, progress=None) -> dict:  # noqa: ANN001
    say = progress.print if progress else (lambda *_: None)
    cat = catalog()
    con = duckdb.connect()
    say(f"generating {n:,} loans …")
    generate(con, n, BUSINESS_DATE)
    figures: dict = describe(con)
    inputs = as_inputs(con, BUSINESS_DATE)
    say("running the engine …")
    outputs, figures["engine_s"] = _timed(engine.run, inputs, BUSINESS_DATE, cat)
    figures["floor_s"] = min(floor_seconds(con) for _ in range(3))
    figures["overdue_loans"] = _overdue(outputs)
    if incremental:  # a full run of the next date: no incremental engine yet (docs/performance.md)
        say("next business date (full run) …")
        nxt = BUSINESS_DATE + timedelta(days=1)
        follow = as_inputs(con, nxt)
        follow = follow.__class__(follow.loans, follow.instalments, follow.settlements, follow.due_dates,
                                  outputs.snapshot)
        _, figures["next_date_full_s"] = _timed(engine.run, follow, nxt, cat)
    say(f"reference on a {sample:,}-loan sample …")
    step = max(1, n // sample)
    sampled = as_inputs(con, BUSINESS_DATE, where=f"loan_id % {step} = 0")
    _, ref_seconds = _timed(reference.evaluate, sampled, BUSINESS_DATE, cat)
    figures["reference_sample_loans"] = sampled.loans.num_rows
    figures["reference_s"] = round(ref_seconds * n / max(1, sampled.loans.num_rows), 3)
    figures["engine_s"] = round(figures["engine_s"], 3)
    figures["floor_s"] = round(figures["floor_s"], 3)
    figures["engine_over_floor"] = round(figures["engine_s"] / figures["floor_s"], 2)
    figures["reference_over_engine"] = round(figures["reference_s"] / figures["engine_s"], 1)
    if "next_date_full_s" in figures:
        figures["next_date_full_s"] = round(figures["next_date_full_s"], 3)
    figures["peak_rss_bytes"] = peak_rss_bytes()
    return figures


def _overdue(outputs) -> int:  # noqa: ANN001
    import pyarrow.compute as pc

    return int(pc.sum(pc.greater(outputs.snapshot.column("dpd"), 0)).as_py() or 0)
