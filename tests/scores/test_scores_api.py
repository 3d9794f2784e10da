"""GET /api/v1/loans/{id}/scores: the latest stored score of each kind with reasons in Chinese and English, or a
live score; only roles with scores:read. On SQLite and PostgreSQL."""

from datetime import date

import pytest
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.tables import User
from arrears.scores.service import score_portfolio
from arrears.settings import Settings
from arrears.web.app import create_app
from scores_book import AS_OF, build_book
from support import PASSWORD
from test_scoring_service import models  # noqa: F401  (the module fixture: models saved in a temporary folder)


def _headers(db, username: str) -> dict[str, str]:
    with db.session() as s:
        issued = service.issue_token(s, s.query(User).filter_by(username=username).one())
        s.commit()
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def client(db, tmp_path, secret_key, models, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ARREARS_MODELS_DIR", str(models))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", AS_OF.isoformat())
    with db.session() as s:
        book = build_book(s)
        score_portfolio(s, date(2024, 3, 1), "propensity", models)
        score_portfolio(s, AS_OF, "propensity", models)
        for role in ("collector", "advisor"):
            service.create_user(s, username=role, display_name=role, password=PASSWORD, role=role, actor="t")
        s.commit()
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key))
    with TestClient(app) as c:
        c.book = book
        yield c


def test_latest_stored_scores_with_reasons_in_both_languages(client, db):
    r = client.get(f"/api/v1/loans/{client.book['L3']}/scores", headers=_headers(db, "collector"))
    assert r.status_code == 200, r.text
    (score,) = r.json()
    assert score["kind"] == "propensity" and score["as_of"] == AS_OF.isoformat() and score["stored"] is True
    assert 0 < float(score["probability"]) < 1 and score["model_version"]
    for reason in score["reasons"]:
        assert reason["code"] and reason["zh"] and reason["en"] and reason["zh"] != reason["en"]


def test_a_live_score_is_the_one_that_applies_now(client, db):
    for loan, kind in (("L1", "early_warning"), ("L3", "propensity")):  # L1 is current, L3 overdue
        r = client.get(f"/api/v1/loans/{client.book[loan]}/scores?live=true", headers=_headers(db, "collector"))
        assert r.status_code == 200, r.text
        (score,) = r.json()
        assert (score["kind"], score["stored"], score["as_of"]) == (kind, False, AS_OF.isoformat())


def test_a_role_without_scores_read_is_refused_and_an_unknown_loan_is_404(client, db):
    r = client.get(f"/api/v1/loans/{client.book['L3']}/scores", headers=_headers(db, "advisor"))
    assert r.status_code == 403 and r.json()["rule"] == "auth.permission"
    r = client.get("/api/v1/loans/999999/scores", headers=_headers(db, "collector"))
    assert r.status_code == 404
