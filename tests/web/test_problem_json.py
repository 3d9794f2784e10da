"""Every error is application/problem+json (RFC 9457) naming the field and the rule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.auth.tables import User
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher
from arrears.settings import Settings
from arrears.web.app import create_app

PASSWORD = "correct horse battery"
MEMBERS = {"type", "title", "status", "detail", "instance", "field", "rule", "errors"}


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", "2026-03-10")


@pytest.fixture
def client(db, tmp_path, secret_key):
    with db.session() as s:
        for role in ("admin", "collector"):
            service.create_user(s, username=role, display_name=role, password=PASSWORD, role=role,
                                actor="setup")
        s.commit()
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key))
    with TestClient(app) as c:
        c.db = db  # type: ignore[attr-defined]
        yield c


def _auth(client: TestClient, username: str) -> dict[str, str]:
    with client.db.session() as s:  # type: ignore[attr-defined]
        issued = service.issue_token(s, s.query(User).filter_by(username=username).one())
        s.commit()
    return {"Authorization": f"Bearer {issued.token}"}


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert MEMBERS <= body.keys() and body["status"] == status
    assert body["type"].startswith("urn:arrears:problem:")
    return body


def test_request_validation_names_each_field_and_rule(client):
    r = client.post("/api/v1/users", headers=_auth(client, "admin"),
                    json={"display_name": "x", "password": "tiny-secret", "role": "collector",
                          "extra": "zzz-9"})
    body = _problem(r, 422)
    found = {(e["field"], e["rule"]) for e in body["errors"]}
    assert {("body.username", "missing"), ("body.extra", "extra_forbidden")} <= found
    assert all(e["message"] for e in body["errors"])
    assert body["field"] and body["rule"] and "body.username" in body["detail"]
    assert "tiny-secret" not in r.text and "zzz-9" not in r.text  # inputs are never echoed back


def test_service_validation_is_problem_json_too(client):
    r = client.post("/api/v1/users", headers=_auth(client, "admin"),
                    json={"username": "b001", "display_name": "b", "password": PASSWORD, "role": "borrower"})
    body = _problem(r, 422)
    assert (body["field"], body["rule"]) == ("borrower_id", "borrower_id.required")
    assert body["errors"] == [{"field": "borrower_id", "rule": "borrower_id.required",
                               "message": body["detail"]}]


@pytest.mark.parametrize("amount, rule", [
    (12.5, "amount.no_float"), (1000.0, "amount.no_float"),
    ("12.345", "amount.yuan_format"), ("abc", "amount.yuan_format"), (True, "amount.type"),
    (0, "greater_than"), ("-1.00", "greater_than"), (10**19, "less_than_equal"),
])
def test_amounts_refuse_floats_and_bad_text(client, amount, rule):
    r = client.post("/api/v1/loans/1/payments", headers={**_auth(client, "admin"), "Idempotency-Key": "k-1"},
                    json={"amount": amount, "received_on": "2026-03-01"})
    body = _problem(r, 422)
    assert ("body.amount", rule) in {(e["field"], e["rule"]) for e in body["errors"]}


@pytest.mark.parametrize("amount", ["1234.56", "1,234.56", 123456, "5"])
def test_amounts_as_yuan_text_or_fen_are_accepted(client, amount):
    # No such loan: getting past validation to the 404 shows the amount itself was accepted.
    r = client.post("/api/v1/loans/424242/payments",
                    headers={**_auth(client, "admin"), "Idempotency-Key": "k-2"},
                    json={"amount": amount, "received_on": "2026-03-01"})
    assert _problem(r, 404)["rule"] == "loan.exists"


def test_missing_idempotency_key_is_named(client):
    r = client.post("/api/v1/loans/1/payments", headers=_auth(client, "admin"),
                    json={"amount": "10.00", "received_on": "2026-03-01"})
    assert _problem(r, 422)["field"] == "header.Idempotency-Key"


def test_not_found_unauthorized_forbidden_and_method_not_allowed(client):
    body = _problem(client.get("/api/v1/loans/424242", headers=_auth(client, "admin")), 404)
    assert (body["title"], body["field"]) == ("Not found", "loan_id")
    assert body["instance"] == "/api/v1/loans/424242"
    assert _problem(client.get("/api/v1/no-such-thing"), 404)["title"] == "Not found"
    r = client.get("/api/v1/me")
    assert _problem(r, 401)["rule"] == "auth.token_missing" and r.headers["www-authenticate"] == "Bearer"
    assert _problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)["rule"] == \
        "auth.token_invalid"
    body = _problem(client.get("/api/v1/users", headers=_auth(client, "collector")), 403)
    assert body["rule"] == "auth.permission" and "users:manage" in body["detail"]
    r = client.delete("/api/v1/me", headers=_auth(client, "admin"))
    assert _problem(r, 405)["title"] == "Method not allowed" and r.headers["allow"] == "GET"


def test_conflict_on_duplicate_username(client):
    payload = {"username": "collector", "display_name": "again", "password": PASSWORD, "role": "collector"}
    body = _problem(client.post("/api/v1/users", headers=_auth(client, "admin"), json=payload), 409)
    assert (body["field"], body["rule"]) == ("username", "username.unique")


def test_conflict_on_an_idempotency_key_reused_for_a_different_payment(client, secret_key):
    from arrears.ledger.service import book_loan
    from arrears.loans.model import ScheduledInstalment

    c = PersonalDataCipher(secret_key)
    with client.db.session() as s:  # type: ignore[attr-defined]
        idn, phone = "110101199003071234", "13812345678"
        b = Borrower(borrower_no="B1", name_enc=c.encrypt("张三"), id_number_enc=c.encrypt(idn),
                     id_number_digest=c.digest(idn), phone_enc=c.encrypt(phone), phone_digest=c.digest(phone))
        s.add(b)
        s.flush()
        loan = book_loan(s, borrower_id=b.id, loan_no="L1", product_code="consumer_loan",
                         method="equal_instalment", principal_fen=120_000, annual_rate=Decimal("0.12"),
                         term=2, disbursed_on=date(2026, 1, 5), first_due_on=date(2026, 2, 5), actor="setup",
                         schedule=[ScheduledInstalment(1, date(2026, 2, 5), 59_700, 1_200),
                                   ScheduledInstalment(2, date(2026, 3, 5), 60_300, 600)])
        s.commit()
    h = {**_auth(client, "admin"), "Idempotency-Key": "bank-20260301-0001"}
    url = f"/api/v1/loans/{loan.id}/payments"
    first = client.post(url, headers=h, json={"amount": "100.00", "received_on": "2026-03-01"})
    assert first.status_code == 201
    body = _problem(client.post(url, headers=h, json={"amount": "100.01", "received_on": "2026-03-01"}), 409)
    assert (body["field"], body["rule"]) == ("Idempotency-Key", "idempotency.key_reused")
