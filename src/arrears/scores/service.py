"""Scoring use cases: the whole portfolio in bulk (set-based: features in DuckDB, scores as NumPy columns, rows
written with COPY / executemany), one loan on request, the latest scores for other capabilities to join, and the
plan-completion model negotiation calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.db.base import utcnow
from arrears.db.bulk import insert_arrow
from arrears.errors import InvalidInput, NotFound
from arrears.scores import registry
from arrears.scores.catalog import PORTFOLIO_KINDS
from arrears.scores.features import build_features, load_sources, points_for
from arrears.scores.features_one import as_table, features_one
from arrears.scores.model import ScoreModel

# Who each portfolio score is for: early warning for loans not overdue, propensity for loans overdue.
POPULATION = {"early_warning": "active AND dpd = 0", "propensity": "dpd > 0"}


@dataclass(frozen=True)
class Scored:
    loan_id: int
    kind: str
    as_of: date
    probability: Decimal
    reasons: tuple[str, ...]
    model_version: str


def probability_text(p: np.ndarray) -> pa.Array:
    """Probabilities as exact 6-place decimal text (what the NUMERIC column stores), element-wise in C."""
    return pa.array(np.char.mod("%.6f", np.clip(p, 0, 1)).astype(str), pa.string())


def score_table(model: ScoreModel, features: pa.Table, kind: str, version: str) -> pa.Table:
    """Scores rows of features: loan_id, kind, as_of, probability (text), reasons, model_version."""
    probability, reasons = model.score(features)
    n = features.num_rows
    return pa.table({"loan_id": features.column("loan_id"), "kind": pa.array([kind] * n, pa.string()),
                     "as_of": features.column("as_of"), "probability": probability_text(probability),
                     "reasons": pc.fill_null(reasons, ""), "model_version": pa.array([version] * n, pa.string())})


def _population(features: pa.Table, kind: str) -> pa.Table:
    con = duckdb.connect()
    con.register("f", features)
    return con.sql(f"SELECT * FROM f WHERE {POPULATION[kind]} ORDER BY loan_id").to_arrow_table()


def score_portfolio(session: Session, as_of: date, kind: str, models_root: Path, *, actor: str = "system") -> int:
    """Scores every loan in the score's population as of ``as_of`` with the active model and replaces that date's
    stored scores of that kind. Returns the rows written. One audit event records the run."""
    if kind not in PORTFOLIO_KINDS:
        raise InvalidInput(f"{kind} scores plans, not loans: use TrainedCompletionModel.probability",
                           field="kind", rule="portfolio_score")
    model, manifest = registry.load(models_root, kind)
    sources = load_sources(session, as_of)
    features = build_features(sources, points_for(sources["loans"].column("loan_id"), as_of))
    rows = score_table(model, _population(features, kind), kind, manifest["version"])
    pg = session.connection().dialect.name == "postgresql"
    session.execute(text("DELETE FROM scores WHERE kind = :k AND as_of = :d"), {"k": kind, "d": as_of})
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if pg else "")
    insert_arrow(session, "scores", rows.append_column("created_at", pa.array([stamp] * rows.num_rows, pa.string())))
    append_event(session, actor=actor, action="scores.portfolio", subject_type="scores", subject_id=f"{kind}:{as_of}",
                 after={"rows": rows.num_rows, "model_version": manifest["version"]})
    return rows.num_rows


def score_one(session: Session, loan_id: int, as_of: date, kind: str, models_root: Path,
              model: tuple[ScoreModel, dict] | None = None) -> Scored:
    """One loan's score now (not stored): the same features (per-loan twin of the SQL) and model as the bulk path."""
    if kind not in PORTFOLIO_KINDS:
        raise InvalidInput(f"{kind} scores plans, not loans", field="kind", rule="portfolio_score")
    scorer, manifest = model or registry.load(models_root, kind)
    row = features_one(load_sources(session, as_of, [loan_id]), loan_id, as_of)
    if row is None:
        raise NotFound(f"loan {loan_id} does not exist or was not disbursed by {as_of}", field="loan_id")
    return scored_row(score_table(scorer, as_table(row), kind, manifest["version"]))


def score_now(session: Session, loan_id: int, as_of: date, models_root: Path) -> Scored | None:
    """The score that applies to the loan today: propensity if it is overdue, early warning if it is current and
    not finished, None if it is finished (the populations of ``score_portfolio``)."""
    row = features_one(load_sources(session, as_of, [loan_id]), loan_id, as_of)
    if row is None:
        raise NotFound(f"loan {loan_id} does not exist or was not disbursed by {as_of}", field="loan_id")
    kind = "propensity" if row["dpd"] > 0 else "early_warning" if row["active"] else None
    if kind is None:
        return None
    scorer, manifest = registry.load(models_root, kind)
    return scored_row(score_table(scorer, as_table(row), kind, manifest["version"]))


def scored_row(table: pa.Table) -> Scored:
    row = table.to_pylist()[0]
    return Scored(row["loan_id"], row["kind"], row["as_of"], Decimal(row["probability"]),
                  tuple(r for r in row["reasons"].split(",") if r), row["model_version"])


def latest_scores_sql() -> str:
    """A query other capabilities LEFT JOIN on ``loan_id``: each loan's latest early-warning and propensity
    probabilities (NULL when not scored), their dates and model versions, and ``risk_score`` — higher is riskier:
    1 − propensity when the newest score is a propensity score (the loan was overdue), else the early-warning
    probability. Plain SQL for both backends:

        SELECT c.id, s.risk_score FROM cases c LEFT JOIN (<latest_scores_sql()>) s ON s.loan_id = c.loan_id
    """
    return """
SELECT loan_id, early_warning, propensity,
       CASE WHEN propensity_on IS NOT NULL AND (early_warning_on IS NULL OR propensity_on >= early_warning_on)
            THEN 1 - propensity ELSE early_warning END AS risk_score,
       early_warning_on, propensity_on, early_warning_model, propensity_model
FROM (
    SELECT loan_id,
           max(CASE WHEN kind = 'early_warning' THEN probability END) AS early_warning,
           max(CASE WHEN kind = 'propensity' THEN probability END) AS propensity,
           max(CASE WHEN kind = 'early_warning' THEN as_of END) AS early_warning_on,
           max(CASE WHEN kind = 'propensity' THEN as_of END) AS propensity_on,
           max(CASE WHEN kind = 'early_warning' THEN model_version END) AS early_warning_model,
           max(CASE WHEN kind = 'propensity' THEN model_version END) AS propensity_model
    FROM (SELECT s.loan_id, s.kind, s.as_of, s.probability, s.model_version
          FROM scores s JOIN (SELECT loan_id, kind, max(as_of) AS as_of FROM scores
                              WHERE kind IN ('early_warning', 'propensity') GROUP BY loan_id, kind) m
            ON m.loan_id = s.loan_id AND m.kind = s.kind AND m.as_of = s.as_of) latest
    GROUP BY loan_id) per_loan"""
