"""Scoring the portfolio in bulk and one loan on request (the same answer), the stored rows naming their model
version, and the latest-scores query strategy rules join. On SQLite and PostgreSQL."""

from datetime import date
from decimal import Decimal

import duckdb

import pytest
from sqlalchemy import select, text

from arrears.audit.tables import Event
from arrears.bench.portfolio import generate
from arrears.errors import InvalidInput, NotFound
from arrears.scores import registry
from arrears.scores.bench import bench_sources, known_labels
from arrears.scores.features import build_features, points_for
from arrears.scores.model import ScoreModel
from arrears.scores.service import latest_scores_sql, score_one, score_portfolio
from arrears.scores.tables import Score
from scores_book import AS_OF, build_book


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Early-warning and propensity models fitted on a generated portfolio's features (labels from a known
    relationship): what matters here is that they are real models of the current feature schema."""
    root = tmp_path_factory.mktemp("models")
    con = duckdb.connect()
    generate(con, 3000, date(2026, 10, 31))
    sources = bench_sources(con)
    features = build_features(sources, points_for(sources["loans"].column("loan_id"), date(2026, 8, 1)))
    y = known_labels(features)
    for kind in ("early_warning", "propensity"):
        model = ScoreModel.fit(kind, features.slice(0, 2000), y[:2000], features.slice(2000), y[2000:])
        registry.save(root, model, {"source": "test"}, "# card\n")
    return root


def test_bulk_scores_are_stored_with_their_model_version_and_equal_single_scores(db, models):
    with db.session() as s:
        book = build_book(s)
        written = {kind: score_portfolio(s, AS_OF, kind, models, actor="t") for kind in ("early_warning", "propensity")}
        s.commit()
        rows = s.scalars(select(Score).order_by(Score.kind, Score.loan_id)).all()
        assert written == {"early_warning": 1, "propensity": 2}  # L1 is current; L2 and L3 are overdue
        assert {(r.kind, r.loan_id) for r in rows} == {("early_warning", book["L1"]), ("propensity", book["L2"]),
                                                      ("propensity", book["L3"])}
        active = registry.active_versions(models)
        for r in rows:
            assert r.model_version == active[r.kind] and r.as_of == AS_OF
            one = score_one(s, r.loan_id, AS_OF, r.kind, models)
            assert Decimal(r.probability).quantize(Decimal("0.000001")) == one.probability
            assert tuple(x for x in r.reasons.split(",") if x) == one.reasons
            assert Decimal(0) < one.probability < Decimal(1)
        events = s.scalars(select(Event).where(Event.subject_type == "scores")).all()
        assert {e.subject_id for e in events} == {f"early_warning:{AS_OF}", f"propensity:{AS_OF}"}


def test_scoring_the_same_date_again_replaces_its_rows(db, models):
    with db.session() as s:
        build_book(s)
        score_portfolio(s, AS_OF, "propensity", models)
        score_portfolio(s, AS_OF, "propensity", models)
        score_portfolio(s, date(2024, 3, 20), "propensity", models)
        counts = s.execute(text("SELECT as_of, count(*) FROM scores GROUP BY as_of ORDER BY as_of")).all()
    assert [c[1] for c in counts] == [2, 2]


def test_latest_scores_left_join_gives_each_loan_its_newest_scores_and_a_risk_score(db, models):
    with db.session() as s:
        book = build_book(s)
        score_portfolio(s, AS_OF, "early_warning", models)
        score_portfolio(s, AS_OF, "propensity", models)
        score_portfolio(s, date(2024, 3, 20), "propensity", models)
        rows = s.execute(text(f"SELECT l.id, x.early_warning, x.propensity, x.risk_score, x.propensity_on "
                              f"FROM loans l LEFT JOIN ({latest_scores_sql()}) x ON x.loan_id = l.id")).all()
        newest = {r.loan_id: Decimal(str(r.probability)).quantize(Decimal("0.000001")) for r in s.scalars(
            select(Score).where(Score.kind == "propensity", Score.as_of == date(2024, 3, 20)))}
    # SQLite keeps NUMERIC as REAL: compare through the text form, as a reader of the query would
    by_loan = {r[0]: [None if v is None else Decimal(str(v)) for v in r[1:4]] + [str(r[4])] for r in rows}
    l1, l3 = by_loan[book["L1"]], by_loan[book["L3"]]
    assert l1[1] is None and l1[0] == l1[2]  # current loan: risk is the early-warning score
    assert l3[3] == "2024-03-20" and l3[1] == newest[book["L3"]]
    assert abs(l3[2] - (1 - newest[book["L3"]])) < Decimal("0.000001")  # overdue: 1 − propensity


def test_completion_is_not_a_portfolio_score_and_an_unknown_loan_is_not_found(db, models):
    with db.session() as s:
        build_book(s)
        with pytest.raises(InvalidInput):
            score_portfolio(s, AS_OF, "completion", models)
        with pytest.raises(NotFound):
            score_one(s, 999_999, AS_OF, "early_warning", models)



def test_score_now_picks_the_score_that_applies(db, models):
    from arrears.loans.payments import post_payment
    from arrears.scores.service import score_now

    with db.session() as s:
        book = build_book(s)
        assert score_now(s, book["L1"], AS_OF, models).kind == "early_warning"
        assert score_now(s, book["L3"], AS_OF, models).kind == "propensity"
        post_payment(s, loan_id=book["L1"], amount_fen=102_500, received_on=date(2024, 3, 30),
                     idempotency_key="L1-3", actor="t", today=date(2024, 6, 30))
        assert score_now(s, book["L1"], date(2024, 4, 15), models) is None  # paid off: nothing to score
