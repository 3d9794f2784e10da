"""The case API over both backends: team scoping, masking, plan and timeline, contacts refused with the rule
(and still logged), promises, stage moves under versions, close/assign permissions, visits with evidence."""

import pytest

from arrears.auth import service as auth
from case_helpers import ADDRESS, PHONE, add_case, add_state
from support import PASSWORD

NOON, LATE = "2026-03-10T04:00:00Z", "2026-03-10T14:30:00Z"  # 12:00 and 22:30 in Shanghai


@pytest.fixture
def world(db, api, secret_key):
    from arrears.privacy import PersonalDataCipher
    import case_helpers
    cipher = PersonalDataCipher(secret_key)
    case_helpers_cipher = case_helpers.CIPHER
    case_helpers.CIPHER = cipher  # personal data must be readable by the app's key
    try:
        with db.session() as s:
            users = {}
            for name, role, team in (("col1", "collector", "一组"), ("col2", "collector", "二组"),
                                     ("sup1", "supervisor", "一组"), ("comp1", "compliance", None)):
                users[name] = auth.create_user(s, username=name, display_name=name, password=PASSWORD, role=role,
                                               actor="t", team=team).id
            mine = add_case(s, "1", team="一组")
            other = add_case(s, "2", team="三组")
            s.commit()
            return {"mine": mine.id, "other": other.id, "users": users, "borrower": mine.borrower_id}
    finally:
        case_helpers.CIPHER = case_helpers_cipher


def test_a_collector_sees_only_own_and_team_cases_with_masked_identity(api, world):
    col1, sup = api.as_("col1"), api.as_("sup1")
    assert [c["id"] for c in api.get("/api/v1/cases", headers=col1).json()["items"]] == [world["mine"]]
    assert api.get("/api/v1/cases", headers=api.as_("col2")).json()["total"] == 0
    assert api.get(f"/api/v1/cases/{world['other']}", headers=col1).status_code == 404
    assert api.get("/api/v1/cases?team=三组", headers=sup).json()["total"] == 1
    assert api.get("/api/v1/cases?stage=legal", headers=sup).json()["total"] == 0
    page = api.get("/api/v1/cases?limit=1&offset=1", headers=sup).json()
    assert page["total"] == 2 and [c["id"] for c in page["items"]] == [world["other"]]
    masked = api.get(f"/api/v1/cases/{world['mine']}", headers=col1).json()
    assert masked["borrower"]["phone"] == "138****5678" and masked["borrower"]["pii_masked"]
    full = api.get(f"/api/v1/cases/{world['mine']}", headers=sup).json()
    assert full["borrower"]["phone"] == PHONE and full["plan"]["next_action"] == "call the borrower"


def test_contacts_promises_and_the_timeline(api, world):
    col1, case = api.as_("col1"), world["mine"]
    refused = api.post(f"/api/v1/cases/{case}/contacts", headers=col1, json={"method": "call", "at": LATE})
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert (body["rule"], body["allowed"], body["next_allowed_at"]) == ("quiet_hours", False, "2026-03-11T00:00:00+00:00")
    wrong = api.post(f"/api/v1/cases/{case}/contacts", headers=col1, json={"method": "call", "to": "13900000000"})
    assert wrong.status_code == 422 and wrong.json()["rule"] == "contact.recipient_not_of_case"
    ok = api.post(f"/api/v1/cases/{case}/contacts", headers=col1,
                  json={"method": "call", "at": NOON, "to": PHONE, "outcome": "promise_to_pay", "note": "月底还"})
    assert ok.status_code == 201, ok.text
    promise = api.post(f"/api/v1/cases/{case}/promises", headers=col1,
                       json={"contact_id": ok.json()["contact_id"], "amount_fen": 60_900, "due_on": "2026-03-20"})
    assert promise.status_code == 201, promise.text
    again = api.post(f"/api/v1/cases/{case}/promises", headers=col1,
                     json={"contact_id": ok.json()["contact_id"], "amount_fen": 1, "due_on": "2026-03-20"})
    assert again.status_code == 409 and again.json()["rule"] == "promise.one_open"
    detail = api.get(f"/api/v1/cases/{case}", headers=col1).json()
    assert detail["plan"]["open_promise"]["amount_fen"] == 60_900
    kinds = [(t["kind"], t.get("action") or t.get("refused_rule") or t.get("status")) for t in detail["timeline"]]
    assert ("contact", "quiet_hours") in kinds and ("event", "contact.refused") in kinds
    assert ("event", "promise.made") in kinds and ("promise", "open") in kinds
    assert [t["note"] for t in detail["timeline"] if t["kind"] == "contact" and t["allowed"]] == ["月底还"]
    comp = api.get(f"/api/v1/cases/{case}", headers=api.as_("comp1")).json()
    assert all(t["note"] is None for t in comp["timeline"] if t["kind"] == "contact")


def test_stage_close_and_assign_with_versions_and_permissions(api, world):
    col1, sup, case = api.as_("col1"), api.as_("sup1"), world["mine"]
    stale = api.post(f"/api/v1/cases/{case}/stage", headers=col1,
                     json={"to_stage": "field_visit", "reason": "无法联系", "expected_version": 9})
    assert stale.status_code == 409 and stale.json()["rule"] == "case.version"
    moved = api.post(f"/api/v1/cases/{case}/stage", headers=col1,
                     json={"to_stage": "field_visit", "reason": "无法联系", "expected_version": 1})
    assert moved.status_code == 200 and moved.json()["stage"] == "field_visit"
    assert moved.json()["next_action_due"] == "2026-03-15"
    bad = api.post(f"/api/v1/cases/{case}/stage", headers=col1,
                   json={"to_stage": "enforcement", "reason": "x", "expected_version": 2})
    assert bad.status_code == 422 and bad.json()["rule"] == "case.transition"
    assert api.post(f"/api/v1/cases/{case}/close", headers=col1,
                    json={"close_reason": "settled", "expected_version": 2}).status_code == 403
    assigned = api.post(f"/api/v1/cases/{case}/assign", headers=sup,
                        json={"owner_user_id": world["users"]["col2"], "team": "二组", "expected_version": 2})
    assert assigned.status_code == 200 and assigned.json()["version"] == 3
    assert api.get(f"/api/v1/cases/{case}", headers=api.as_("col2")).status_code == 200
    assert api.get(f"/api/v1/cases/{case}", headers=col1).status_code == 404
    closed = api.post(f"/api/v1/cases/{case}/close", headers=sup,
                      json={"close_reason": "settled", "reason": "和解", "expected_version": 3})
    assert closed.status_code == 200 and (closed.json()["status"], closed.json()["closed_on"]) == ("closed", "2026-03-10")


def test_a_visit_with_uploaded_evidence(api, world):
    col1, case = api.as_("col1"), world["mine"]
    jpeg = b"\xff\xd8\xff\xe0" + b"door" * 20
    up = api.post("/api/v1/evidence", headers={**col1, "content-type": "image/jpeg"}, content=jpeg)
    assert up.status_code == 201 and up.json()["type"] == "image/jpeg"
    lie = api.post("/api/v1/evidence", headers={**col1, "content-type": "application/pdf"}, content=jpeg)
    assert lie.status_code == 422 and lie.json()["rule"] == "evidence.type_mismatch"
    alone = api.post(f"/api/v1/cases/{case}/visits", headers=col1,
                     json={"planned_at": "2026-03-12T02:00:00Z", "address_type": "home", "address": ADDRESS})
    assert alone.status_code == 422 and alone.json()["rule"] == "visit.two_collectors"
    visit = api.post(f"/api/v1/cases/{case}/visits", headers=col1,
                     json={"planned_at": "2026-03-12T02:00:00Z", "address_type": "home", "address": ADDRESS,
                           "second_collector_user_id": world["users"]["col2"]})
    assert visit.status_code == 201, visit.text
    report = api.post(f"/api/v1/visits/{visit.json()['visit_id']}/report", headers=col1,
                      json={"outcome": "right_party", "report": "见到本人", "recording_ref": "rec://v1",
                            "evidence": [up.json()["sha256"]], "committee_involved": True,
                            "committee_name": "建国路社区居委会", "expected_version": visit.json()["version"]})
    assert report.status_code == 200, report.text
    assert report.json()["evidence"][0]["sha256"] == up.json()["sha256"]
    detail = api.get(f"/api/v1/cases/{case}", headers=col1).json()
    assert [t["committee_name"] for t in detail["timeline"] if t["kind"] == "visit"] == ["建国路社区居委会"]


def test_third_parties_only_for_borrowers_of_cases_one_works_and_do_not_contact_for_supervisors(api, world):
    col1, sup = api.as_("col1"), api.as_("sup1")
    other_borrower = api.get(f"/api/v1/cases/{world['other']}", headers=sup).json()["borrower_id"]
    body = {"relation": "family", "name": "张父", "phone": "13700001111"}
    assert api.post(f"/api/v1/borrowers/{other_borrower}/third-parties", headers=col1, json=body).status_code == 404
    added = api.post(f"/api/v1/borrowers/{world['borrower']}/third-parties", headers=col1, json=body)
    assert added.status_code == 201 and added.json()["relation"] == "family"
    flag = {"on": True, "reason": "借款人书面要求停止联系"}
    assert api.post(f"/api/v1/borrowers/{world['borrower']}/do-not-contact", headers=col1, json=flag).status_code == 403
    assert api.post(f"/api/v1/borrowers/{world['borrower']}/do-not-contact", headers=sup, json=flag).status_code == 200
    frozen = api.post(f"/api/v1/cases/{world['mine']}/contacts", headers=col1, json={"method": "sms", "at": NOON})
    assert frozen.status_code == 409 and frozen.json()["rule"] == "do_not_contact"


def test_a_letter_is_previewed_masked_then_queued_or_refused_with_the_rule(api, world, db, monkeypatch):
    from datetime import UTC, datetime

    from arrears.cases import work_api
    from arrears.cases.tables import Case

    with db.session() as s:
        add_state(s, s.get(Case, world["mine"]))
        s.commit()
    col1, comp = api.as_("col1"), api.as_("comp1")
    url = f"/api/v1/cases/{world['mine']}/letters"
    body = {"template": "overdue_notice", "channel": "sms"}
    preview = api.get(f"{url}/preview", headers=col1, params=body)
    assert preview.status_code == 200 and preview.json()["language"] == "zh-CN"
    assert "张*" in preview.json()["body"] and "张三" not in preview.json()["body"]
    english = api.get(f"{url}/preview", headers=col1, params={**body, "language": "en"}).json()
    assert english["language"] == "en" and english["subject"].startswith("Inclusive Demo Bank")
    assert api.post(url, headers=comp, json=body).status_code == 403  # compliance reads, does not work cases
    assert api.post(f"/api/v1/cases/{world['other']}/letters", headers=col1, json=body).status_code == 404
    bad = api.post(url, headers=col1, json={**body, "template": "lawyer_letter"})
    assert bad.status_code == 422 and bad.json()["rule"] == "letter.stage"

    monkeypatch.setattr(work_api, "utcnow", lambda: datetime(2026, 3, 10, 14, 30, tzinfo=UTC))  # 22:30 local
    refused = api.post(url, headers=col1, json=body)
    assert refused.status_code == 409 and refused.json()["rule"] == "quiet_hours"
    assert refused.json()["next_allowed_at"].startswith("2026-03-11T00:00")
    monkeypatch.setattr(work_api, "utcnow", lambda: datetime(2026, 3, 10, 4, tzinfo=UTC))  # noon
    sent = api.post(url, headers=col1, json=body)
    assert sent.status_code == 201 and sent.json()["status"] == "pending" and not sent.json()["already"]
    again = api.post(url, headers=col1, json=body)
    assert again.status_code == 200 and again.json()["outbox_id"] == sent.json()["outbox_id"]
    detail = api.get(f"/api/v1/cases/{world['mine']}", headers=col1).json()
    kinds = [(t["kind"], t.get("action") or t.get("refused_rule")) for t in detail["timeline"]]
    assert ("event", "letter.refused") in kinds and ("contact", "quiet_hours") in kinds
    assert ("event", "letter.queued") in kinds
