"""Evaluation figures: AUC, KS, Brier score, a calibration table, and a two-model uplift estimate."""

from __future__ import annotations

import numpy as np


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann–Whitney), ties averaged."""
    y = np.asarray(y).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = np.asarray(p)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Largest gap between the score distributions of positives and negatives."""
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        return float("nan")
    thresholds = np.unique(p)
    cdf_pos = np.searchsorted(np.sort(p[y]), thresholds, side="right") / y.sum()
    cdf_neg = np.searchsorted(np.sort(p[~y]), thresholds, side="right") / (~y).sum()
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2))


def calibration_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> list[dict]:
    """Rows sorted by predicted probability in ``groups`` equal-count groups: mean predicted vs observed rate."""
    order = np.argsort(p, kind="mergesort")
    out = []
    for part in np.array_split(order, groups):
        if part.size:
            out.append({"n": int(part.size), "predicted": round(float(np.mean(p[part])), 4),
                        "observed": round(float(np.mean(y[part])), 4)})
    return out


def evaluate(y: np.ndarray, p: np.ndarray) -> dict:
    y = np.asarray(y).astype(np.float64)
    return {"rows": int(len(y)), "positives": int(y.sum()), "auc": round(auc(y, p), 4), "ks": round(ks(y, p), 4),
            "brier": round(brier(y, p), 4), "calibration": calibration_table(y, p)}


def two_model_uplift(p_treated: np.ndarray, p_control: np.ndarray) -> np.ndarray:
    """Uplift of a contact per row: P(pay | contacted) − P(pay | not contacted), each from its own model."""
    return np.asarray(p_treated) - np.asarray(p_control)
