"""`arrears bench scoring`: on the end-of-day benchmark's generated portfolio (bench/portfolio.py, N loans with
instalments and settlements), times

- training: fitting the early-warning scorecard (bins, Newton steps, calibration) on ``train_rows`` feature rows
  built from that portfolio; the labels are drawn from a known logistic relationship over the features, so the
  figure is the pipeline's cost, not a model's quality (docs/models.md has real-data figures);
- bulk scoring: point-in-time features for every loan in DuckDB, probabilities and reason codes as columns
  (``score_table``: what ``score_portfolio`` writes), without the database write;
- one score on request: one loan's features (``features_one``) and the model on that loan's source rows (what
  ``score_one`` does after reading them from the database), p95 over 200 loans.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from arrears.bench.common import peak_rss_bytes
from arrears.bench.portfolio import generate
from arrears.scores.features import SOURCES, build_features, points_for
from arrears.scores.features_one import as_table, features_one
from arrears.scores.model import ScoreModel
from arrears.scores.service import score_table

BUSINESS_DATE = date(2026, 10, 31)
SINGLE_CALLS = 200


def bench_sources(con: duckdb.DuckDBPyConnection, where: str = "") -> dict[str, pa.Table]:
    filt = f"WHERE {where}" if where else ""
    tables = {
        "loans": f"SELECT loan_id, product_code, annual_rate, principal_fen, term, disbursed_on, "
                 f"NULL::DATE AS restructured_on FROM bench_loans {filt}",
        "instalments": f"SELECT loan_id, seq, due_on, principal_due_fen + interest_due_fen + fee_due_fen + "
                       f"cost_due_fen AS due_fen FROM bench_instalments {filt}",
        "settlements": f"SELECT loan_id, seq, component, amount_fen, value_date FROM bench_settlements {filt}",
    }
    out = {name: con.sql(sql).to_arrow_table().cast(SOURCES[name]) for name, sql in tables.items()}
    out["contacts"] = SOURCES["contacts"].empty_table()
    out["promises"] = SOURCES["promises"].empty_table()
    return out


def known_labels(features: pa.Table, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    col = lambda n: np.nan_to_num(np.asarray(features.column(n).to_numpy(zero_copy_only=False), dtype=np.float64))  # noqa: E731
    z = -2.5 - 2.0 * col("on_time_share") + 0.03 * col("n_late_6m") * 10 + 0.02 * col("max_late_6m") \
        + 1.5 * col("remaining_share")
    return (rng.random(features.num_rows) < 1 / (1 + np.exp(-z))).astype(np.float64)


def run_scoring_bench(n: int, train_rows: int, *, progress=None) -> dict:  # noqa: ANN001
    say = progress.print if progress else (lambda *_: None)
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    say(f"generating {n:,} loans …")
    generated = max(n, train_rows * 11 // 10)  # some loans are disbursed after the training date
    generate(con, generated, BUSINESS_DATE)
    sources = bench_sources(con)
    figures: dict = {"score_rows": n, "train_rows": train_rows,
                     "instalments": sources["instalments"].num_rows, "settlements": sources["settlements"].num_rows}

    say("training …")
    as_of_train = BUSINESS_DATE - timedelta(days=90)
    train = build_features(sources, points_for(pa.array(range(1, generated + 1), pa.int64()), as_of_train))
    train = train.slice(0, min(train_rows, train.num_rows))
    y = known_labels(train)
    cut = int(train.num_rows * 0.8)
    start = time.perf_counter()
    model = ScoreModel.fit("early_warning", train.slice(0, cut), y[:cut], train.slice(cut), y[cut:])
    figures["train_s"] = round(time.perf_counter() - start, 3)
    figures["train_rows"] = train.num_rows

    say("bulk scoring …")
    start, cpu = time.perf_counter(), time.process_time()
    features = build_features(sources, points_for(pa.array(range(1, n + 1), pa.int64()), BUSINESS_DATE))
    scored = score_table(model, features, "early_warning", "bench")
    figures["score_bulk_s"] = round(time.perf_counter() - start, 3)
    figures["score_bulk_cpu_s"] = round(time.process_time() - cpu, 3)  # the machine is shared: CPU time too
    figures["score_rows"] = scored.num_rows

    say("one score at a time …")
    step = max(1, n // SINGLE_CALLS)
    per_loan = _split_by_loan(bench_sources(con, f"loan_id % {step} = 0 AND loan_id <= {n}"))
    timings, cpu_timings = [], []
    for loan_id, loan_sources in per_loan[:SINGLE_CALLS]:
        start, cpu = time.perf_counter(), time.thread_time()
        score_table(model, as_table(features_one(loan_sources, loan_id, BUSINESS_DATE)), "early_warning", "bench")
        timings.append((time.perf_counter() - start) * 1000)
        cpu_timings.append((time.thread_time() - cpu) * 1000)
    figures["score_single_p95_ms"] = round(float(np.percentile(timings, 95)), 2)
    figures["score_single_median_ms"] = round(float(np.median(timings)), 2)
    figures["score_single_p95_cpu_ms"] = round(float(np.percentile(cpu_timings, 95)), 2)
    figures["peak_rss_bytes"] = peak_rss_bytes()
    return figures


def _split_by_loan(sources: dict[str, pa.Table]) -> list[tuple[int, dict[str, pa.Table]]]:
    """Each sampled loan's own source rows, as ``load_sources(session, as_of, [loan_id])`` returns them."""
    import pyarrow.compute as pc

    out = []
    for loan_id in sources["loans"].column("loan_id").to_pylist():
        out.append((loan_id, {name: t.filter(pc.equal(t.column("loan_id"), loan_id)) if t.num_rows else t
                              for name, t in sources.items()}))
    return out
