"""What `arrears model …` does, apart from printing: fetch a source's training data, train, evaluate saved models
on their time hold-out again."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from arrears.db.base import as_date
from arrears.scores import registry
from arrears.scores.catalog import KINDS, feature_catalog
from arrears.scores.features import load_sources
from arrears.scores.labels import training_rows
from arrears.scores.metrics import evaluate
from arrears.scores.sources import load_lendingclub, load_sba, synthetic_completion
from arrears.scores.train import labels, train


def data_end(session: Session) -> date:
    """The last business date the database is complete for: the latest complete end-of-day run."""
    last = session.execute(text("SELECT max(business_date) FROM eod_runs WHERE status = 'complete'")).scalar()
    if last is None:
        raise ValueError("no end-of-day run yet: run `arrears eod` (or build the demo) before training on it")
    return as_date(last)


def dataset(kind: str, source: str, factory: sessionmaker | None, data_path: Path | None = None,
            limit: int | None = None) -> tuple[pa.Table, str, str]:
    """(rows with features and label, the time column, what the label means)."""
    catalog = feature_catalog()
    if source == "demo":
        if factory is None:
            raise ValueError("--source demo reads the database: give --data-dir or --database-url")
        with factory() as session:
            end = data_end(session)
            sources = load_sources(session, end)
        return training_rows(sources, end, kind), "as_of", catalog.spec(kind).en
    if source == "synthetic":
        return synthetic_completion(), "period", catalog.spec(kind).en
    if source == "sba":
        return load_sba(data_path, limit), "period", catalog.datasets["sba"].en
    if source == "lendingclub":
        return load_lendingclub(), "period", catalog.datasets["lendingclub"].en
    raise ValueError(f"unknown --source {source!r}: demo, synthetic, sba or lendingclub")


def train_command(kind: str, source: str, models_root: Path, factory: sessionmaker | None,
                  data_path: Path | None = None, limit: int | None = None, activate: bool = True) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown --score {kind!r}: {', '.join(KINDS)}")
    data, time_column, description = dataset(kind, source, factory, data_path, limit)
    _, manifest = train(kind, source, data, time_column, models_root, description=description, activate=activate)
    return manifest


def evaluate_command(models_root: Path, factory: sessionmaker | None, names: list[str] | None = None,
                     data_path: Path | None = None) -> dict:
    """Each named model (default: the active ones) scored again on its source's rows from its hold-out date on."""
    active = registry.active_versions(models_root)
    names = names or [k for k in KINDS if k in active]
    if not names:
        raise ValueError("no trained model to evaluate: run `arrears model train` first")
    out = {}
    for name in names:
        version = active.get(name) or (registry.versions(models_root, name) or [None])[-1]
        model, manifest = registry.load(models_root, name, version)
        data, time_column, _ = dataset(manifest["score"], manifest["source"], factory, data_path)
        cut = pa.scalar(date.fromisoformat(manifest["split"]["holdout_from"]), pa.date32())
        holdout = data.filter(pc.greater_equal(data.column(time_column), cut))
        figures = evaluate(labels(holdout), model.predict(holdout))
        out[name] = {"version": manifest["version"], "source": manifest["source"],
                     "holdout_from": manifest["split"]["holdout_from"], **figures}
    return out
