"""Training and evaluation: data from a source, a time split (train / calibration slice / hold-out, oldest to
newest), the scorecard fit, hold-out figures, the model card, a new saved version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.scores import registry
from arrears.scores.card import model_card
from arrears.scores.catalog import feature_catalog
from arrears.scores.metrics import evaluate, two_model_uplift
from arrears.scores.model import ScoreModel

HOLDOUT_SHARE, VALID_SHARE = 0.2, 0.2
MIN_UPLIFT_GROUP = 200  # treated and untreated rows each needed for a two-model uplift estimate
SOURCES = ("demo", "synthetic", "sba", "lendingclub")


@dataclass
class Split:
    train: pa.Table
    valid: pa.Table
    holdout: pa.Table
    valid_from: date
    holdout_from: date


def time_split(data: pa.Table, time_column: str) -> Split:
    """The newest ~20 % of rows (by whole dates) are the hold-out, the ~20 % before them calibrate, the rest train."""
    data = data.sort_by(time_column)
    days = data.column(time_column).cast(pa.int32()).to_numpy(zero_copy_only=False)
    epoch = date(1970, 1, 1).toordinal()
    if len(days) < 10:
        raise ValueError(f"only {len(days)} training rows: too few to train and hold out")
    hold_day = int(np.quantile(days, 1 - HOLDOUT_SHARE, method="higher"))
    valid_day = int(np.quantile(days, 1 - HOLDOUT_SHARE - VALID_SHARE, method="higher"))
    if valid_day == days.min() or hold_day == valid_day:  # too few distinct dates: split by row order instead
        n = len(days)
        a, b = int(n * (1 - HOLDOUT_SHARE - VALID_SHARE)), int(n * (1 - HOLDOUT_SHARE))
        cut = [data.slice(0, a), data.slice(a, b - a), data.slice(b)]
        first = [date.fromordinal(epoch + int(days[i])) for i in (a, b)]
        return Split(*cut, first[0], first[1])
    hold = days >= hold_day
    valid = (days >= valid_day) & ~hold
    train = ~(hold | valid)
    return Split(data.filter(pa.array(train)), data.filter(pa.array(valid)), data.filter(pa.array(hold)),
                 date.fromordinal(epoch + valid_day), date.fromordinal(epoch + hold_day))


def labels(table: pa.Table) -> np.ndarray:
    return pc.cast(table.column("label"), pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)


def fit_and_evaluate(kind: str, data: pa.Table, time_column: str) -> tuple[ScoreModel, dict, Split]:
    split = time_split(data, time_column)
    model = ScoreModel.fit(kind, split.train, labels(split.train), split.valid, labels(split.valid))
    figures = evaluate(labels(split.holdout), model.predict(split.holdout))
    return model, figures, split


def uplift_estimate(kind: str, split: Split) -> dict:
    """Two-model uplift of a contact (propensity only): P(pay | reached) − P(pay | not reached) on the hold-out."""
    if "treated" not in split.train.column_names:
        return {"estimated": False, "reason": "no contact data in this source"}
    treated = {name: pc.fill_null(t.column("treated"), False) for name, t in
               (("train", split.train), ("valid", split.valid), ("holdout", split.holdout))}
    n_treated = int(pc.sum(pc.cast(treated["train"], pa.int64())).as_py() or 0)
    n_control = split.train.num_rows - n_treated
    if min(n_treated, n_control) < MIN_UPLIFT_GROUP:
        return {"estimated": False, "treated_rows": n_treated, "control_rows": n_control,
                "reason": f"fewer than {MIN_UPLIFT_GROUP} reached (or not reached) borrowers in the training "
                          "period: the contact log is too thin for a two-model estimate"}
    models = {}
    for arm, keep in (("treated", True), ("control", False)):
        sel = {k: pc.equal(v, keep) for k, v in treated.items()}
        tr, va = split.train.filter(sel["train"]), split.valid.filter(sel["valid"])
        models[arm] = ScoreModel.fit(kind, tr, labels(tr), va, labels(va))
    up = two_model_uplift(models["treated"].predict(split.holdout), models["control"].predict(split.holdout))
    return {"estimated": True, "method": "two-model (separate scorecards for reached and not reached)",
            "treated_rows": n_treated, "control_rows": n_control, "holdout_mean_uplift": round(float(up.mean()), 4),
            "holdout_share_positive": round(float((up > 0).mean()), 4)}


def train(kind: str, source: str, data: pa.Table, time_column: str, models_root: Path, *,
          description: str, activate: bool = True) -> tuple[str, dict]:
    """Fits, evaluates on the time hold-out, writes the version with its manifest and card; returns both."""
    name = _model_name(kind, source)
    model, figures, split = fit_and_evaluate(name, data, time_column)
    periods = data.column(time_column)
    manifest = {
        "source": source, "score": kind, "description": description, "rows": data.num_rows,
        "period": [str(pc.min(periods).as_py()), str(pc.max(periods).as_py())],
        "split": {"train_rows": split.train.num_rows, "valid_rows": split.valid.num_rows,
                  "holdout_rows": split.holdout.num_rows, "valid_from": str(split.valid_from),
                  "holdout_from": str(split.holdout_from), "time_column": time_column},
        "holdout": figures,
        "uplift": uplift_estimate(name, split) if kind == "propensity" else None,
    }
    card = model_card(model, manifest, feature_catalog())
    version = registry.save(models_root, model, manifest, card, activate=activate and name == kind)
    return version, {**manifest, "version": version, "kind": name}


def _model_name(kind: str, source: str) -> str:
    """Public data sets have their own feature schema: their models are saved under the data set's name and are
    never the active model for the portfolio."""
    if source in ("sba", "lendingclub"):
        if kind != "early_warning":
            raise ValueError(f"--source {source} has default labels only: use --score early_warning")
        return source
    if source == "synthetic" and kind != "completion":
        raise ValueError("--source synthetic is for --score completion only")
    if source == "demo" and kind == "completion":
        raise ValueError("the database holds no restructured plans with outcomes yet: train completion with "
                         "--source synthetic")
    return kind
