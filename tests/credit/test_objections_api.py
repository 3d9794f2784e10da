"""The objections API: unknown account refused (404, rule named), the 20-day due date, answering with a
correction, a stale version is 409, and who may call it."""

import pytest
from support import add_borrower, add_small_loan

from arrears.auth import service
from arrears.auth.model import Role
from arrears.privacy import PersonalDataCipher
from support import PASSWORD

pytestmark = pytest.mark.business_date("2026-04-10")


@pytest.fixture
def client(db, secret_key, make_client):
    with db.session() as s:
        loan = add_small_loan(s, add_borrower(s, cipher=PersonalDataCipher(secret_key)))
        for role in (Role.compliance, Role.collector):
            service.create_user(s, username=role.value, display_name=role.value, password=PASSWORD,
                                role=role.value, actor="setup")
        s.commit()
        loan_id = loan.id
    with make_client() as c:
        c.loan_id = loan_id
        yield c


def test_objection_flow_over_the_api(client):
    h = client.issued_bearer("compliance")
    r = client.post("/api/v1/credit/objections", json={"loan_id": 999999, "claim": "不是我的"}, headers=h)
    assert r.status_code == 404 and r.json()["rule"] == "credit.objection_account_known"
    r = client.post("/api/v1/credit/objections", json={"loan_id": client.loan_id, "claim": "二月已还款"}, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["received_on"], body["due_on"], body["status"]) == ("2026-04-10", "2026-04-30", "open")
    listed = client.get("/api/v1/credit/objections?status=open", headers=h).json()
    assert [o["id"] for o in listed] == [body["id"]]
    answer = {"upheld": True, "answer": "已更正", "corrections": [{"month": "2026-02", "code": "N"}],
              "expected_version": body["version"] + 5}
    stale = client.post(f"/api/v1/credit/objections/{body['id']}/answer", json=answer, headers=h)
    assert stale.status_code == 409
    answer["expected_version"] = body["version"]
    r = client.post(f"/api/v1/credit/objections/{body['id']}/answer", json=answer, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "upheld" and r.json()["corrections"] == [{"month": "2026-02", "code": "N"}]
    assert r.json()["answered_late"] is False
    forbidden = client.get("/api/v1/credit/objections", headers=client.issued_bearer("collector"))
    assert forbidden.status_code == 403 and forbidden.json()["rule"] == "auth.permission"
