"""`arrears bench eod`: the end-of-day engine on a generated portfolio, against its floor (DuckDB
scanning and grouping the same instalment columns once) and the per-loan reference (timed on a
sample and scaled to N); optionally the next business date as an incremental run (with the loans closed and
the new ones production sees from one date to the next: ``NEW_ONE_IN``, ``CLOSED_ONE_IN``), and the PostgreSQL
round trip (``eod_pg.py``).

A portfolio above ``RANGE_LOANS`` is generated and run range by range of loan_ids (every result is per
loan, as the engine's own chunks): the figures are the sums over the ranges, and memory holds one range's
inputs at a time, as a database read streamed by loan range would.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pyarrow.compute as pc

from arrears.bench.common import load_average_1m, peak_rss_bytes
from arrears.bench.portfolio import as_inputs, changed_on, describe, generate, next_day_payments, settle
from arrears.delinquency import engine, reference
from arrears.delinquency.incremental import run_incremental
from arrears.delinquency.model import INSTALMENTS
from arrears.products.catalog import catalog

BUSINESS_DATE = date(2026, 10, 31)
RANGE_LOANS = 1_000_000
# The floor scans "the same instalment columns" as the engine (issue 3): all of INSTALMENTS but the group key.
# The first floor of this bench took the due columns only; it is still printed, as floor_due_columns_s.
ENGINE_COLUMNS = tuple(INSTALMENTS.names[1:])
DUE_COLUMNS = ("due_on", "principal_due_fen", "interest_due_fen", "fee_due_fen", "cost_due_fen")
# The next business date as production sees it: the newest loans of each range, 1 in NEW_ONE_IN (their ids after
# P's), are first seen then, and 1 in CLOSED_ONE_IN of P's loans were paid off and closed (no longer read).
NEW_ONE_IN, CLOSED_ONE_IN = 500, 1000


CPU = {}  # CPU seconds (all threads of the process) of the last _timed call: on a shared machine the wall
# clock depends on the other sessions' load, the CPU time much less (2 cores: wall ≥ CPU / 2)


def _timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    CPU["last"] = time.process_time() - cpu
    return result, time.perf_counter() - start


def _best(runs: int, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """``fn`` run ``runs`` times on the same inputs (the engine is a pure function of them): its result, the first
    run's seconds, and the best run's seconds and CPU seconds — the same measure as the floor's, which is the best
    of three scans. The first run also pays for memory the process touches for the first time."""
    result, first = _timed(fn, *args, **kwargs)
    best, cpu = first, CPU["last"]
    for _ in range(runs - 1):
        del result
        result, seconds = _timed(fn, *args, **kwargs)
        if seconds < best:
            best, cpu = seconds, CPU["last"]
    return result, first, best, cpu


def floor_seconds(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...] = ENGINE_COLUMNS) -> float:
    """DuckDB scanning ``columns`` of the instalments and grouping them by loan once (one aggregate each):
    the least any engine reading those columns could do. By default the columns the engine reads."""
    aggregates = ", ".join(f"max({c})" for c in columns)
    _, seconds = _timed(lambda: con.sql(
        f"SELECT loan_id, count(*), {aggregates} FROM bench_instalments GROUP BY loan_id").to_arrow_table())
    return seconds


def _add(figures: dict, key: str, value) -> None:  # noqa: ANN001
    figures[key] = figures.get(key, 0) + value


def run_eod_bench(n: int, *, sample: int = 2000, incremental: bool = False, database_url: str | None = None,
                  runs: int = 3, progress=None) -> dict:  # noqa: ANN001
    say = progress.print if progress else (lambda *_: None)
    cat = catalog()
    nxt = BUSINESS_DATE + timedelta(days=1)  # end of day runs every calendar day
    figures: dict = {}
    load_before = load_average_1m()
    for first in range(1, n + 1, RANGE_LOANS):
        size = min(RANGE_LOANS, n + 1 - first)
        con = duckdb.connect()
        say(f"generating loans {first:,} … {first + size - 1:,} …")
        generate(con, size, BUSINESS_DATE, first=first)
        for key, value in describe(con).items():
            _add(figures, key, value)
        inputs = as_inputs(con, BUSINESS_DATE)
        say("running the engine …")
        outputs, first_s, seconds, cpu = _best(runs, engine.run, inputs, BUSINESS_DATE, cat)
        _add(figures, "engine_s", seconds)
        _add(figures, "engine_first_s", first_s)
        _add(figures, "engine_cpu_s", cpu)
        _add(figures, "floor_s", min(floor_seconds(con) for _ in range(3)))
        _add(figures, "floor_due_columns_s", min(floor_seconds(con, DUE_COLUMNS) for _ in range(3)))
        _add(figures, "overdue_loans", int(pc.sum(pc.greater(outputs.snapshot.column("dpd"), 0)).as_py() or 0))
        if first == 1:
            say(f"reference on a {sample:,}-loan sample …")
            step = max(1, size // sample)
            sampled = as_inputs(con, BUSINESS_DATE, where=f"loan_id % {step} = 0")
            _, ref_seconds = _timed(reference.evaluate, sampled, BUSINESS_DATE, cat)
            figures["reference_sample_loans"] = sampled.loans.num_rows
            figures["reference_s"] = ref_seconds * n / max(1, sampled.loans.num_rows)
            if database_url:
                from arrears.bench.eod_pg import pg_round_trip

                say("PostgreSQL round trip …")
                figures.update(pg_round_trip(con, database_url, BUSINESS_DATE, cat, progress))
        if incremental:  # P's run again, keeping what the next date continues from (its cost, apart), without the
            # loans first seen on the next date
            newest = first + size - max(1, size // NEW_ONE_IN)
            kept, seconds = _timed(engine.run, as_inputs(con, BUSINESS_DATE, where=f"loan_id < {newest}"),
                                   BUSINESS_DATE, cat, keep=True)
            _add(figures, "engine_keep_s", seconds)
            _add(figures, "engine_keep_cpu_s", CPU["last"])
            carry, previous = kept.carry, kept.snapshot
            del kept
        del inputs, outputs
        if incremental:
            say("next business date: incremental, then full …")
            next_day_payments(con, nxt)
            settle(con, nxt)
            closed = f"loan_id % {CLOSED_ONE_IN} = 3"
            follow = replace(as_inputs(con, nxt, where=f"NOT ({closed})"), previous=previous)
            _add(figures, "incremental_new_loans", first + size - newest)
            _add(figures, "incremental_closed_loans", con.sql(f"SELECT count(*) FROM bench_loans WHERE {closed} "
                                                              f"AND loan_id < {newest}").fetchall()[0][0])
            changed = changed_on(con, nxt)
            del previous
            result, first_s, seconds, cpu = _best(runs, run_incremental, follow, nxt, cat, changed=changed, carry=carry)
            _add(figures, "incremental_s", seconds)
            _add(figures, "incremental_first_s", first_s)
            _add(figures, "incremental_cpu_s", cpu)
            _add(figures, "incremental_recomputed_loans", result.recomputed)
            _add(figures, "incremental_continued_loans", result.continued)
            _add(figures, "incremental_fell_due_loans", result.fell_due)
            full, seconds = _timed(engine.run, follow, nxt, cat)
            _add(figures, "next_date_full_s", seconds)
            same = all(getattr(full, t).equals(getattr(result.outputs, t))
                       for t in ("snapshot", "penalties", "transitions", "rejected"))
            figures["incremental_equals_full"] = figures.get("incremental_equals_full", True) and same
            del follow, full, result, carry
        con.close()
    for key in ("engine_s", "engine_first_s", "engine_cpu_s", "floor_s", "floor_due_columns_s", "reference_s",
                "incremental_s", "incremental_first_s", "incremental_cpu_s", "next_date_full_s", "engine_keep_s",
                "engine_keep_cpu_s"):
        if key in figures:
            figures[key] = round(figures[key], 3)
    figures["engine_over_floor"] = round(figures["engine_s"] / figures["floor_s"], 2)
    figures["reference_over_engine"] = round(figures["reference_s"] / figures["engine_s"], 1)
    figures["ranges"] = -(-n // RANGE_LOANS)
    figures["runs"] = runs
    figures["peak_rss_bytes"] = peak_rss_bytes()
    figures["load_average_1m"] = [load_before, load_average_1m()]  # at the start and at the end
    return figures
