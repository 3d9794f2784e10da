"""Every error is application/problem+json (RFC 9457) naming the field and the rule."""

from __future__ import annotations

import pytest

from support import PASSWORD

MEMBERS = {"type", "title", "status", "detail", "instance", "field", "rule", "errors"}
pytestmark = pytest.mark.business_date("2026-03-10")


@pytest.fixture
def client(make_client):
    with make_client("admin", "collector") as c:
        yield c


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert MEMBERS <= body.keys() and body["status"] == status
    assert body["type"].startswith("urn:arrears:problem:")
    return body


def test_request_validation_names_each_field_and_rule(client):
    r = client.post("/api/v1/users", headers=client.issued_bearer("admin"),
                    json={"display_name": "x", "password": "tiny-secret", "role": "collector",
                          "extra": "zzz-9"})
    body = _problem(r, 422)
    found = {(e["field"], e["rule"]) for e in body["errors"]}
    assert {("body.username", "missing"), ("body.extra", "extra_forbidden")} <= found
    assert all(e["message"] for e in body["errors"])
    assert body["field"] and body["rule"] and "body.username" in body["detail"]
    assert "tiny-secret" not in r.text and "zzz-9" not in r.text  # inputs are never echoed back


def test_service_validation_is_problem_json_too(client):
    r = client.post("/api/v1/users", headers=client.issued_bearer("admin"),
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
    r = client.post("/api/v1/loans/1/payments", headers={**client.issued_bearer("admin"), "Idempotency-Key": "k-1"},
                    json={"amount": amount, "received_on": "2026-03-01"})
    body = _problem(r, 422)
    assert ("body.amount", rule) in {(e["field"], e["rule"]) for e in body["errors"]}


@pytest.mark.parametrize("amount", ["1234.56", "1,234.56", 123456, "5"])
def test_amounts_as_yuan_text_or_fen_are_accepted(client, amount):
    # No such loan: getting past validation to the 404 shows the amount itself was accepted.
    r = client.post("/api/v1/loans/424242/payments",
                    headers={**client.issued_bearer("admin"), "Idempotency-Key": "k-2"},
                    json={"amount": amount, "received_on": "2026-03-01"})
    assert _problem(r, 404)["rule"] == "loan.exists"


def test_missing_idempotency_key_is_named(client):
    r = client.post("/api/v1/loans/1/payments", headers=client.issued_bearer("admin"),
                    json={"amount": "10.00", "received_on": "2026-03-01"})
    assert _problem(r, 422)["field"] == "header.Idempotency-Key"


def test_not_found_unauthorized_forbidden_and_method_not_allowed(client):
    body = _problem(client.get("/api/v1/loans/424242", headers=client.issued_bearer("admin")), 404)
    assert (body["title"], body["field"]) == ("Not found", "loan_id")
    assert body["instance"] == "/api/v1/loans/424242"
    assert _problem(client.get("/api/v1/no-such-thing"), 404)["title"] == "Not found"
    r = client.get("/api/v1/me")
    assert _problem(r, 401)["rule"] == "auth.token_missing" and r.headers["www-authenticate"] == "Bearer"
    assert _problem(client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)["rule"] == \
        "auth.token_invalid"
    body = _problem(client.get("/api/v1/users", headers=client.issued_bearer("collector")), 403)
    assert body["rule"] == "auth.permission" and "users:manage" in body["detail"]
    r = client.delete("/api/v1/me", headers=client.issued_bearer("admin"))
    assert _problem(r, 405)["title"] == "Method not allowed" and r.headers["allow"] == "GET"


def test_conflict_on_duplicate_username(client):
    payload = {"username": "collector", "display_name": "again", "password": PASSWORD, "role": "collector"}
    body = _problem(client.post("/api/v1/users", headers=client.issued_bearer("admin"), json=payload), 409)
    assert (body["field"], body["rule"]) == ("username", "username.unique")


def test_conflict_on_an_idempotency_key_reused_for_a_different_payment(client, loan_id):
    h = {**client.issued_bearer("admin"), "Idempotency-Key": "bank-20260301-0001"}
    url = f"/api/v1/loans/{loan_id}/payments"
    first = client.post(url, headers=h, json={"amount": "100.00", "received_on": "2026-03-01"})
    assert first.status_code == 201
    body = _problem(client.post(url, headers=h, json={"amount": "100.01", "received_on": "2026-03-01"}), 409)
    assert (body["field"], body["rule"]) == ("Idempotency-Key", "idempotency.key_reused")
