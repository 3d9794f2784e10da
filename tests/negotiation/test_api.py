"""The negotiation API on both backends: 小王's story from hardship application to an accepted plan, and
bad input answered as problem+json."""

from __future__ import annotations

import pytest

from arrears.auth import service
from helpers import PDF, add_wang_loan
from support import PASSWORD

pytestmark = pytest.mark.business_date("2026-03-10")
API = "/api/v1"


@pytest.fixture
def world(db, make_client):
    with db.session() as s:
        b, loan = add_wang_loan(s)
        service.create_user(s, username="xiaowang", display_name="王小明", password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=b.id)
        s.commit()
        ids = {"loan": loan.id, "borrower": b.id}
    with make_client("negotiator", "supervisor", "collector") as client:
        yield client, ids


STATEMENT = {"incomes": {"unemployment_benefit": "1800.00", "part_time": 300_000},
             "expenses": {"housing": "1500", "food": "1200", "utilities": "200", "transport": "150"},
             "dependants": 1, "region_code": "330106", "assets": {"deposit": "5000"}}


def test_xiaowangs_story_from_hardship_to_an_accepted_plan(world):
    c, ids = world
    me, nego, sup = c.issued_bearer("xiaowang"), c.issued_bearer("negotiator"), c.issued_bearer("supervisor")
    loan = ids["loan"]
    # 1. 小王 lost his job and applies, with his termination letter as evidence
    r = c.post(f"{API}/loans/{loan}/hardship-applications", headers=me, json={
        "statement": STATEMENT, "hardship_kind": "job_loss", "hardship_since": "2025-12-15",
        "description": "公司裁员", "consent": True})
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "submitted" and app["filed_by_borrower"] and app["statement"]["incomes"]["part_time"] == 300_000
    r = c.post(f"{API}/hardship-applications/{app['id']}/evidence", headers=me,
               files={"file": ("termination.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    r = c.post(f"{API}/hardship-applications/{app['id']}/evidence", headers=me,
               files={"file": ("photo.png", b"GIF89a not a png", "image/png")})
    assert r.status_code == 422 and r.json()["rule"] == "file.type"
    assert r.headers["content-type"].startswith("application/problem+json")
    # 2. the negotiator verifies it and looks at the affordability and the options
    r = c.post(f"{API}/hardship-applications/{app['id']}/review", headers=nego,
               json={"decision": "verified", "note": "核实", "version": app["version"]})
    assert r.status_code == 200 and r.json()["status"] == "verified"
    aff = c.get(f"{API}/hardship-applications/{app['id']}/affordability", headers=nego).json()
    assert aff["disposable"]["fen"] == 480_000 - 305_000 and aff["sustainable_payment"]["fen"] == 87_500
    r = c.get(f"{API}/loans/{loan}/plan-options", headers=nego)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["application_status"] == "verified" and body["dpd"] == 68 and body["debt"]["penalty"]["fen"] == 12_000
    best = body["options"][0]
    assert best["affordable"] and best["explanation"].endswith("。") and len(body["options"]) >= 40
    assert best["monthly_payment"]["fen"] <= 87_500
    # 3. negotiation: the institution offers; 小王 counters with a penalty waiver and a principal cut
    mine = next(o for o in body["options"] if o["required_authority"] == "negotiator")  # within own authority
    neg = c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={"application_id": app["id"]}).json()
    first = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=nego, json={"terms": mine["terms"]})
    assert first.status_code == 201 and first.json()["status"] == "open", first.text
    proposal = {"periods": 36, "annual_rate": "0.06", "waiver": {"penalty": "120.00", "principal": "2000"}}
    verdict = c.post(f"{API}/loans/{loan}/proposals/evaluate", headers=me, json=proposal).json()
    assert verdict["verdict"] == "needs_approval" and verdict["counter_offer"]["required_authority"] == "negotiator"
    counter = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=me,
                     json={"terms": proposal, "counter_to_id": first.json()["id"]})
    assert counter.status_code == 201 and counter.json()["party"] == "borrower"
    r = c.post(f"{API}/offers/{counter.json()['id']}/accept", headers=nego)  # beyond the negotiator
    assert r.status_code == 403 and r.json()["rule"] == "approval.authority"
    c.post(f"{API}/offers/{counter.json()['id']}/reject", headers=nego).raise_for_status()
    # 4. the negotiator meets him half-way; above the negotiator's authority, a supervisor approves it
    middle = {"periods": 36, "annual_rate": "0.06", "waiver": {"penalty": 12_000, "principal": 100_000}}
    offer = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=nego, json={"terms": middle}).json()
    assert offer["status"] == "pending_approval" and offer["required_authority"] == "supervisor"
    assert c.post(f"{API}/offers/{offer['id']}/accept", headers=me).json()["rule"] == "offer.not_open"
    assert c.post(f"{API}/offers/{offer['id']}/approve", headers=nego).status_code == 403
    assert c.post(f"{API}/offers/{offer['id']}/approve", headers=sup).json()["status"] == "open"
    r = c.post(f"{API}/offers/{offer['id']}/accept", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    again = c.post(f"{API}/offers/{offer['id']}/withdraw", headers=nego)
    assert again.status_code == 409
    done = c.get(f"{API}/negotiations/{neg['id']}", headers=me).json()
    assert done["status"] == "agreed" and done["accepted_offer_id"] == offer["id"]
    assert [o["status"] for o in done["offers"]] == ["superseded", "rejected", "accepted"]
    assert [h["action"] for h in done["history"]][-2:] == ["negotiation.offer_approved", "negotiation.offer_accepted"]
    plan = done["offers"][-1]["plan"]
    assert plan["waiver"]["principal"] == 100_000 and len(plan["schedule"]) == 36


def test_bad_input_is_a_clear_error(world):
    c, ids = world
    me, nego, col = c.issued_bearer("xiaowang"), c.issued_bearer("negotiator"), c.issued_bearer("collector")
    loan = ids["loan"]
    base = {"hardship_kind": "job_loss", "hardship_since": "2025-12-15", "consent": True}
    r = c.post(f"{API}/loans/{loan}/hardship-applications", headers=me,
               json={**base, "statement": {**STATEMENT, "incomes": {"wages": "-5.00"}}})
    assert r.status_code == 422 and r.json()["field"] == "incomes.wages"
    r = c.post(f"{API}/loans/{loan}/hardship-applications", headers=me,
               json={**base, "statement": {**STATEMENT, "incomes": {"wages": 1234.5}}})
    assert r.status_code == 422  # a float amount
    r = c.post(f"{API}/loans/{loan}/hardship-applications", headers=me, json={**base, "consent": False,
                                                                                "statement": STATEMENT})
    assert r.status_code == 422 and r.json()["rule"] == "hardship.consent_required"
    r = c.post(f"{API}/loans/{loan}/proposals/evaluate", headers=nego, json={"periods": 12, "annual_rate": 0.05})
    assert r.status_code == 422  # a float rate
    neg = c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={}).json()
    r = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=nego, json={"terms": {"periods": 61,
                                                                                      "annual_rate": "0.12"}})
    assert r.status_code == 422 and r.json()["rule"] == "plan.max_periods"
    assert c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={}).status_code == 409
    assert c.get(f"{API}/loans/{loan}/plan-options", headers=col).status_code == 403
    assert c.post(f"{API}/loans/{loan}/hardship-applications", headers=col,
                  json={**base, "statement": STATEMENT}).status_code == 403
