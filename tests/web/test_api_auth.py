"""Signing in and out over HTTP, user administration, and the signed-in flows built on them:
loan detail, posting and reversing payments, the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from arrears.auth import service
from arrears.auth.tables import User
from arrears.db.base import utcnow
from arrears.web.deps import BUSINESS_TZ, business_date

API = "/api/v1"
pytestmark = pytest.mark.business_date("2026-03-10")


@pytest.fixture
def client(make_client):
    with make_client("admin", "supervisor", "collector", "compliance") as c:
        yield c


def test_sign_in_gives_a_bearer_token_that_opens_me(client):
    r = client.sign_in("Supervisor")
    assert r.status_code == 200
    body = r.json()
    assert (body["token_type"], body["role"]) == ("bearer", "supervisor") and len(body["access_token"]) >= 43
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=12)
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert (me["username"], me["role"]) == ("supervisor", "supervisor")
    assert "payments:reverse" in me["permissions"] and "users:manage" not in me["permissions"]


def test_wrong_password_and_unknown_user_get_the_same_401(client):
    wrong, unknown = client.sign_in("admin", "not the password"), client.sign_in("ghost")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] and wrong.json()["rule"] == "auth.credentials"
    assert wrong.headers["content-type"] == "application/problem+json"


def test_disabled_accounts_cannot_sign_in_or_use_old_tokens(client):
    h = client.bearer("collector")
    with client.db.session() as s:
        user = s.query(User).filter_by(username="collector").one()
        service.set_user_active(s, user_id=user.id, active=False, actor="admin")
        s.commit()
    assert client.sign_in("collector").json()["rule"] == "auth.account_inactive"
    r = client.get(f"{API}/me", headers=h)
    assert (r.status_code, r.json()["rule"]) == (401, "auth.account_inactive")


def test_expired_tokens_are_refused(client):
    with client.db.session() as s:
        user = s.query(User).filter_by(username="admin").one()
        issued = service.issue_token(s, user, ttl=timedelta(hours=1), now=utcnow() - timedelta(hours=2))
        s.commit()
    r = client.get(f"{API}/me", headers={"Authorization": f"Bearer {issued.token}"})
    assert (r.status_code, r.json()["rule"]) == (401, "auth.token_expired")


def test_token_lifetime_is_configurable(make_client, monkeypatch):
    def lifetime(client) -> timedelta:
        with client as c:
            expires = datetime.fromisoformat(c.sign_in("admin").json()["expires_at"])
        return expires - datetime.now(UTC)

    assert timedelta(minutes=59) < lifetime(make_client("admin", token_ttl=timedelta(hours=1))) \
        <= timedelta(hours=1)
    monkeypatch.setenv("ARREARS_TOKEN_TTL_HOURS", "8")
    assert timedelta(hours=7, minutes=59) < lifetime(make_client()) <= timedelta(hours=8)


def test_logout_revokes_the_token_and_is_audited(client):
    h = client.bearer("collector")
    assert client.post(f"{API}/auth/logout", headers=h).status_code == 204
    r = client.get(f"{API}/me", headers=h)
    assert (r.status_code, r.json()["rule"]) == (401, "auth.token_revoked")
    events = client.get(f"{API}/events", params={"subject_type": "user"},
                        headers=client.bearer("admin")).json()
    actions = [(e["actor"], e["action"]) for e in events["items"]]
    assert ("collector", "user.signed_in") in actions and ("collector", "user.signed_out") in actions


def test_malformed_authorization_headers_get_401(client):
    for header, rule in (("Basic YWRtaW46eA==", "auth.token_missing"), ("Bearer", "auth.token_missing"),
                         ("Bearer garbage", "auth.token_invalid")):
        r = client.get(f"{API}/me", headers={"Authorization": header})
        assert (r.status_code, r.json()["rule"]) == (401, rule), header


def test_admin_creates_and_lists_users_and_the_new_user_signs_in(client):
    h = client.bearer("admin")
    r = client.post(f"{API}/users", headers=h, json={"username": "li.na", "display_name": "李娜",
                                                     "password": "another long one", "role": "negotiator",
                                                     "team": "south"})
    assert r.status_code == 201
    created = r.json()
    assert (created["username"], created["role"], created["team"], created["active"]) == \
        ("li.na", "negotiator", "south", True)
    assert "password" not in r.text and "argon2" not in r.text
    assert client.sign_in("li.na", "another long one").json()["role"] == "negotiator"
    names = [u["username"] for u in client.get(f"{API}/users", headers=h).json()]
    assert names == ["admin", "supervisor", "collector", "compliance", "li.na"]
    trail = client.get(f"{API}/events", params={"subject_type": "user", "subject_id": created["id"]},
                       headers=h).json()["items"]
    assert [(e["actor"], e["action"]) for e in trail] == [("admin", "user.created"),
                                                         ("li.na", "user.signed_in")]


def test_business_date_reads_the_environment_else_shanghai_today(monkeypatch):
    assert business_date() == date(2026, 3, 10)
    monkeypatch.delenv("ARREARS_BUSINESS_DATE")
    assert business_date() == datetime.now(BUSINESS_TZ).date()


# --- payments through the API (loan_id: tests/web/conftest.py) ----------------------------------------

def test_loan_detail_shows_terms_balances_and_schedule(client, loan_id):
    d = client.get(f"{API}/loans/{loan_id}", headers=client.bearer("collector")).json()
    assert (d["loan_no"], d["borrower_no"], d["annual_rate"]) == ("L1", "B1", "0.12")
    assert d["as_of"] == "2026-03-10"
    assert d["principal"] == {"fen": 120_000, "yuan": "1200.00"}
    assert d["balances"]["interest"]["due"] == {"fen": 1_800, "yuan": "18.00"}
    assert d["total"]["outstanding"]["fen"] == d["total"]["past_due"]["fen"] == 121_800  # both due by 03-10
    assert [(i["seq"], i["due_on"], i["total"]["due"]["fen"]) for i in d["schedule"]] == \
        [(1, "2026-02-05", 60_900), (2, "2026-03-05", 60_900)]
    h = client.bearer("collector")
    page = client.get(f"{API}/loans", params={"product": "consumer_loan", "limit": 1}, headers=h).json()
    assert (page["total"], page["next_offset"]) == (1, None)
    assert page["items"][0]["outstanding"] == {"fen": 121_800, "yuan": "1218.00"}
    assert client.get(f"{API}/loans", params={"status": "closed"}, headers=h).json()["total"] == 0
    assert client.get(f"{API}/loans", params={"limit": 0}, headers=h).status_code == 422


def test_post_replay_and_reverse_a_payment(client, loan_id):
    h = {**client.bearer("supervisor"), "Idempotency-Key": "bank-20260301-0001"}
    body = {"amount": "609.00", "received_on": "2026-03-01", "channel": "bank_transfer",
            "external_ref": "TX1"}
    first = client.post(f"{API}/loans/{loan_id}/payments", headers=h, json=body)
    assert first.status_code == 201, first.text
    paid = first.json()
    assert paid["amount"] == {"fen": 60_900, "yuan": "609.00"} and paid["to_credit"]["fen"] == 0
    assert sum(a["amount"]["fen"] for a in paid["allocations"]) == 60_900
    assert {a["seq"] for a in paid["allocations"]} == {1}

    replay = client.post(f"{API}/loans/{loan_id}/payments", headers=h, json={**body, "amount": 60_900})
    assert replay.status_code == 200 and replay.json() == paid  # fen or yuan: the same request
    assert replay.headers["idempotency-replayed"] == "true"

    detail = client.get(f"{API}/loans/{loan_id}", headers=h).json()
    assert detail["total"]["paid"]["fen"] == 60_900
    assert detail["schedule"][0]["total"]["outstanding"]["fen"] == 0

    reversed_ = client.post(f"{API}/payments/{paid['payment_id']}/reverse", headers=h,
                            json={"reason": "bounced by the bank"})
    assert reversed_.status_code == 200, reversed_.text
    out = reversed_.json()
    assert (out["status"], out["reason"]) == ("reversed", "bounced by the bank")
    assert sum(a["amount"]["fen"] for a in out["restored"]) == 60_900
    assert client.get(f"{API}/loans/{loan_id}", headers=h).json()["total"]["paid"]["fen"] == 0
    again = client.post(f"{API}/payments/{paid['payment_id']}/reverse", headers=h, json={"reason": "twice"})
    assert (again.status_code, again.json()["rule"]) == (409, "payment.already_reversed")

    trail = client.get(f"{API}/events", params={"subject_type": "loan", "subject_id": loan_id},
                       headers=client.bearer("compliance")).json()["items"]
    assert [(e["actor"], e["action"]) for e in trail] == [
        ("setup", "loan.booked"), ("supervisor", "payment.posted"), ("supervisor", "payment.reversed")]


def test_collectors_cannot_post_or_reverse_payments(client, loan_id):
    h = {**client.bearer("collector"), "Idempotency-Key": "k-9"}
    r = client.post(f"{API}/loans/{loan_id}/payments", headers=h,
                    json={"amount": "1.00", "received_on": "2026-03-01"})
    assert (r.status_code, r.json()["rule"]) == (403, "auth.permission")
    assert client.post(f"{API}/payments/1/reverse", headers=h, json={"reason": "x" * 5}).status_code == 403
