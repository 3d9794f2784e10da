"""A binned logistic scorecard in NumPy: quantile bins (plus a bin for missing or malformed values) → one-hot →
L2 logistic regression by Newton's method → Platt calibration on a validation slice.

Why this shape: every bin has one coefficient, so a score is a sum a person can read, reason codes fall out
as "the bins that cost the most against the best bin of the same feature", and fitting needs only bin counts
(``np.bincount``), which keeps a million rows to seconds. Probabilities here are floats: they are not money.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_BINS = 6  # quantile bins per numeric feature (fewer when values repeat)
MIN_CATEGORY = 20  # rarer categories share the "other" bin
L2 = 1.0  # ridge on every bin coefficient (not the intercept): keeps sparse bins near the average
REASON_MIN_GAP = 0.05  # logit a bin must cost against the best bin to be named as a reason
TOP_REASONS = 3


@dataclass
class Binned:
    """One feature's bins: bin 0 is missing/malformed (numeric) or missing/other (categorical)."""

    name: str
    type: str
    edges: list = field(default_factory=list)  # numeric: ascending cut points
    categories: list = field(default_factory=list)  # categorical: known values
    coef: list = field(default_factory=list)
    counts: list = field(default_factory=list)  # training rows per bin (documents imputation in the card)

    @property
    def n_bins(self) -> int:
        return 1 + (len(self.edges) + 1 if self.type == "numeric" else len(self.categories))

    def labels(self) -> list[str]:
        if self.type == "categorical":
            return ["missing/other"] + [str(c) for c in self.categories]
        bounds = ["-inf"] + [f"{e:g}" for e in self.edges] + ["inf"]
        return ["missing"] + [f"[{lo}, {hi})" for lo, hi in zip(bounds[:-1], bounds[1:])]


def numeric_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Floats with NaN for anything missing, not a number, or infinite (never raises on bad input)."""
    t = column.type
    if pa.types.is_null(t):
        return np.full(len(column), np.nan)
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    else:  # text, decimals, anything else: TRY_CAST turns the unreadable into NULL
        con = duckdb.connect()
        con.register("c", pa.table({"v": column}))
        values = con.sql("SELECT TRY_CAST(CAST(v AS VARCHAR) AS DOUBLE) AS v FROM c").to_arrow_table() \
            .column("v").to_numpy(zero_copy_only=False)
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def text_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)


def fit_bins(name: str, type_: str, column: pa.ChunkedArray | pa.Array) -> Binned:
    if type_ == "numeric":
        x = numeric_values(column)
        x = x[~np.isnan(x)]
        if x.size == 0:
            return Binned(name, type_)
        edges = np.unique(np.quantile(x, np.arange(1, MAX_BINS) / MAX_BINS))
        edges = edges[edges > x.min()]  # a cut at the minimum would leave an empty first bin
        return Binned(name, type_, edges=[round(e, 6) for e in edges.tolist()])
    values, counts = np.unique(text_values(column).astype(str), return_counts=True)
    keep = sorted(v for v, n in zip(values.tolist(), counts.tolist()) if n >= MIN_CATEGORY and v != "None")
    return Binned(name, type_, categories=keep)


def bin_index(b: Binned, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if b.type == "numeric":
        x = numeric_values(column)
        idx = 1 + np.searchsorted(np.asarray(b.edges, dtype=np.float64), x, side="right")
        return np.where(np.isnan(x), 0, idx).astype(np.int32)
    if not b.categories:
        return np.zeros(len(column), dtype=np.int32)
    codes = pc.index_in(pc.cast(column, pa.string()), value_set=pa.array(b.categories, pa.string()))
    return (pc.fill_null(codes, -1).to_numpy(zero_copy_only=False) + 1).astype(np.int32)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -35, 35)))


def fit_logistic(indices: list[np.ndarray], sizes: list[int], y: np.ndarray, l2: float = L2,
                 max_iter: int = 30) -> np.ndarray:
    """Coefficients [intercept, bins of feature 0, bins of feature 1, …] by Newton steps; the Hessian is built
    from pairwise bin counts, so no dense design matrix is ever made."""
    offsets = np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]]).astype(int)
    k = 1 + int(sum(sizes))
    beta = np.zeros(k)
    prior = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    beta[0] = np.log(prior / (1 - prior))
    ridge = np.full(k, l2)
    ridge[0] = 0
    for _ in range(max_iter):
        z = beta[0] + sum(beta[o + i] for o, i in zip(offsets, indices))
        p = sigmoid(z)
        r, w = p - y, p * (1 - p)
        g = np.empty(k)
        h = np.zeros((k, k))
        g[0], h[0, 0] = r.sum(), w.sum()
        for f, (o, i, s) in enumerate(zip(offsets, indices, sizes)):
            g[o:o + s] = np.bincount(i, weights=r, minlength=s)
            h[0, o:o + s] = h[o:o + s, 0] = np.bincount(i, weights=w, minlength=s)
            for o2, i2, s2 in list(zip(offsets, indices, sizes))[f:]:
                block = np.bincount(i * s2 + i2, weights=w, minlength=s * s2).reshape(s, s2)
                h[o:o + s, o2:o2 + s2] = block
                h[o2:o2 + s2, o:o + s] = block.T
        g += ridge * beta
        h[np.diag_indices(k)] += ridge + 1e-9
        step = np.linalg.solve(h, g)
        beta -= step
        if np.max(np.abs(step)) < 1e-7:
            break
    return beta


def fit_platt(z: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """a, b with P(y) = sigmoid(a·z + b) on a validation slice (Newton, 2 parameters)."""
    a, b = 1.0, 0.0
    x = np.column_stack([z, np.ones_like(z)])
    for _ in range(50):
        p = sigmoid(a * z + b)
        w = p * (1 - p) + 1e-9
        g = x.T @ (p - y)
        h = (x * w[:, None]).T @ x + np.eye(2) * 1e-6
        da, db = np.linalg.solve(h, g)
        a, b = a - da, b - db
        if max(abs(da), abs(db)) < 1e-9:
            break
    return round(a, 10), round(b, 10)
