"""A trained score: bins and coefficients per feature, the calibration, and the feature schema it was built on.
Scoring a table is column arithmetic (bin lookups and sums); reasons are the top bins against the borrower."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.scores.catalog import FeatureCatalog, feature_catalog
from arrears.scores.scorecard import (
    REASON_MIN_GAP,
    TOP_REASONS,
    Binned,
    bin_index,
    fit_bins,
    fit_logistic,
    fit_platt,
    sigmoid,
)


@dataclass
class ScoreModel:
    kind: str
    schema_hash: str
    adverse: str  # high: the probability is of a bad outcome; low: of a good one
    intercept: float
    platt_a: float
    platt_b: float
    bins: list[Binned]

    @property
    def feature_names(self) -> list[str]:
        return [b.name for b in self.bins]

    # --- fitting -----------------------------------------------------------------------------------------------
    @classmethod
    def fit(cls, kind: str, train: pa.Table, y_train: np.ndarray, valid: pa.Table, y_valid: np.ndarray,
            catalog: FeatureCatalog | None = None) -> ScoreModel:
        catalog = catalog or feature_catalog()
        bins = [fit_bins(f["name"], f["type"], train.column(f["name"])) for f in catalog.schema(kind)]
        indices = [bin_index(b, train.column(b.name)) for b in bins]
        beta = fit_logistic(indices, [b.n_bins for b in bins], y_train.astype(np.float64))
        offset = 1
        for b, idx in zip(bins, indices):
            b.coef = [round(c, 10) for c in beta[offset:offset + b.n_bins].tolist()]
            b.counts = np.bincount(idx, minlength=b.n_bins).tolist()
            offset += b.n_bins
        model = cls(kind, catalog.schema_hash(kind), catalog.adverse(kind), round(float(beta[0]), 10), 1.0, 0.0, bins)
        if valid.num_rows and 0 < y_valid.sum() < len(y_valid):
            model.platt_a, model.platt_b = fit_platt(model.logits(valid), y_valid.astype(np.float64))
        return model

    # --- scoring -----------------------------------------------------------------------------------------------
    def _contributions(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(n × features) bin coefficients of each row, and the bin indices."""
        idx = np.column_stack([bin_index(b, _column(table, b.name)) for b in self.bins]) if self.bins else \
            np.zeros((table.num_rows, 0), dtype=np.int32)
        contrib = np.column_stack([np.asarray(b.coef)[idx[:, j]] for j, b in enumerate(self.bins)]) \
            if self.bins else np.zeros((table.num_rows, 0))
        return contrib, idx

    def logits(self, table: pa.Table) -> np.ndarray:
        contrib, _ = self._contributions(table)
        return self.intercept + contrib.sum(axis=1)

    def predict(self, table: pa.Table) -> np.ndarray:
        return sigmoid(self.platt_a * self.logits(table) + self.platt_b)

    def score(self, table: pa.Table) -> tuple[np.ndarray, pa.Array]:
        """Probabilities and reason codes (comma-separated feature names, the costliest first), set-based."""
        contrib, _ = self._contributions(table)
        probability = sigmoid(self.platt_a * (self.intercept + contrib.sum(axis=1)) + self.platt_b)
        sign, best = self._best()
        gap = sign * contrib - best  # how much each feature's bin costs against the borrower vs its best bin
        order = np.argsort(-gap, axis=1, kind="stable")[:, :TOP_REASONS]
        names = np.asarray(self.feature_names + [""], dtype=object)
        parts = []
        for k in range(min(TOP_REASONS, len(self.bins))):
            col = order[:, k]
            take = np.take_along_axis(gap, col[:, None], axis=1)[:, 0] > REASON_MIN_GAP
            parts.append(pa.array(np.where(take, names[col], None), pa.string()))
        if not parts:
            return probability, pa.array([""] * table.num_rows, pa.string())
        reasons = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
        return probability, reasons

    def _best(self) -> tuple[int, np.ndarray]:
        """The adverse direction and, per feature, its most favourable bin seen in training (computed once)."""
        if getattr(self, "_best_cache", None) is None:
            sign = (1 if self.adverse == "high" else -1) * (1 if self.platt_a >= 0 else -1)
            best = np.array([min(sign * c for c, n in zip(b.coef, b.counts) if n) if any(b.counts) else 0
                             for b in self.bins])
            self._best_cache = (sign, best)
        return self._best_cache

    # --- storage -----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ScoreModel:
        bins = [Binned(**b) for b in data["bins"]]
        return cls(**{**data, "bins": bins})


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A missing column is all missing (imputed into the missing bin), never a crash."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.float64())])
