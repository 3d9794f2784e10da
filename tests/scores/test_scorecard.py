"""The scorecard on synthetic data with a known relationship: it ranks correctly, it is calibrated, reasons
name the feature that hurts, and bad or missing values are scored (missing bin) instead of crashing."""

import math

import numpy as np
import pyarrow as pa
import pytest

from arrears.scores.metrics import auc, brier, calibration_table, evaluate, ks
from arrears.scores.model import ScoreModel
from arrears.scores.scorecard import numeric_values
from arrears.scores.train import time_split

N = 30_000


def plans(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Plan completion rises with the payment cut and falls with days past due; the rest is noise."""
    rng = np.random.default_rng(seed)
    relief = rng.uniform(0, 0.6, n)
    dpd = rng.integers(0, 360, n).astype(float)
    z = -0.3 + 5 * relief - 0.006 * dpd
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    table = pa.table({"payment_relief": relief, "plan_term": rng.integers(3, 60, n).astype(float),
                      "waiver_share": rng.uniform(0, 0.3, n), "burden": rng.uniform(0.4, 1.2, n),
                      "dpd_at_restructuring": dpd, "product_code": rng.choice(["consumer_loan", "credit_card"], n)})
    return table, y


@pytest.fixture(scope="module")
def fitted():
    train, y = plans(N, 1)
    valid, yv = plans(N // 4, 2)
    return ScoreModel.fit("completion", train, y, valid, yv)


def test_it_ranks_a_known_relationship_well_and_is_calibrated(fitted):
    test, y = plans(N // 2, 3)
    p = fitted.predict(test)
    assert auc(y, p) > 0.75
    assert abs(p.mean() - y.mean()) < 0.02
    table = calibration_table(y, p)
    assert [row["n"] for row in table] == [N // 20] * 10
    assert all(abs(row["predicted"] - row["observed"]) < 0.06 for row in table)
    # the model learnt the direction: more relief, higher completion; longer overdue, lower
    relief = fitted.bins[0]
    assert relief.name == "payment_relief" and relief.coef[-1] > relief.coef[1]
    dpd = next(b for b in fitted.bins if b.name == "dpd_at_restructuring")
    assert dpd.coef[-1] < dpd.coef[1]


def test_reasons_name_what_counts_against_the_borrower(fitted):
    worst = pa.table({"payment_relief": [0.0], "plan_term": [12.0], "waiver_share": [0.1], "burden": [1.0],
                      "dpd_at_restructuring": [350.0], "product_code": ["consumer_loan"]})
    best = pa.table({"payment_relief": [0.59], "plan_term": [12.0], "waiver_share": [0.1], "burden": [1.0],
                     "dpd_at_restructuring": [1.0], "product_code": ["consumer_loan"]})
    (p_worst,), reasons = fitted.score(worst)
    (p_best,), best_reasons = fitted.score(best)
    assert p_worst < p_best
    assert set(reasons[0].as_py().split(",")[:2]) == {"payment_relief", "dpd_at_restructuring"}
    assert "payment_relief" not in best_reasons[0].as_py().split(",")


def test_missing_and_malformed_values_take_the_missing_bin_without_crashing(fitted):
    messy = pa.table({"payment_relief": pa.array(["0.3", "abc", None, "inf", ""], pa.string()),
                      "plan_term": pa.array([12, None, 12, 12, 12], pa.int64()),
                      "waiver_share": [0.1, math.nan, math.inf, -math.inf, 0.1],
                      "product_code": ["consumer_loan", None, "unknown", "", "credit_card"]})
    # burden and dpd_at_restructuring are absent altogether
    p, reasons = fitted.score(messy)
    assert p.shape == (5,) and np.all((p > 0) & (p < 1))
    assert len(reasons) == 5
    np.testing.assert_array_equal(np.isnan(numeric_values(messy.column("payment_relief"))),
                                  [False, True, True, True, True])
    # every malformed relief is scored exactly like a missing one
    one = lambda v: fitted.predict(pa.table({"payment_relief": pa.array([v], pa.string())}))[0]  # noqa: E731
    assert one("abc") == one(None) == one("inf") != one("0.3")


def test_metrics_on_known_cases():
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1
    assert auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0
    assert auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1
    assert brier(y, np.array([0, 0, 1, 1])) == 0 and brier(y, np.array([1, 1, 0, 0])) == 1
    assert set(evaluate(y, np.array([0.1, 0.2, 0.8, 0.9]))) >= {"auc", "ks", "brier", "calibration"}


def test_time_split_holds_out_the_newest_dates():
    from datetime import date, timedelta

    days = [date(2024, 1, 1) + timedelta(days=30 * (i % 10)) for i in range(1000)]
    table = pa.table({"as_of": pa.array(days, pa.date32()), "label": [i % 2 for i in range(1000)]})
    split = time_split(table, "as_of")
    newest = lambda t: max(t.column("as_of").to_pylist())  # noqa: E731
    oldest = lambda t: min(t.column("as_of").to_pylist())  # noqa: E731
    assert newest(split.train) < oldest(split.valid) <= newest(split.valid) < oldest(split.holdout)
    assert split.holdout_from == oldest(split.holdout) and split.holdout.num_rows == 200
    assert split.train.num_rows + split.valid.num_rows + split.holdout.num_rows == 1000
