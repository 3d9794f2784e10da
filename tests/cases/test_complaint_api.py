"""The complaint API (here for the shared API fixtures): a borrower files only for themselves; the open complaint
freezes contact on their case (409 open_complaint) until compliance resolves it; statistics."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from arrears.auth import service as auth
from case_helpers import add_case
from support import PASSWORD


@pytest.fixture
def world(db, api):
    with db.session() as s:
        case = add_case(s, "1", team="一组")
        other = add_case(s, "2")
        for name, role, team, borrower in (("col1", "collector", "一组", None), ("comp1", "compliance", None, None),
                                           ("b0000001", "borrower", None, case.borrower_id)):
            auth.create_user(s, username=name, display_name=name, password=PASSWORD, role=role, actor="t",
                             team=team, borrower_id=borrower)
        s.commit()
        return {"case": case.id, "borrower": case.borrower_id, "other_borrower": other.borrower_id,
                "other_loan": other.loan_id}


def test_a_borrower_files_for_themselves_and_contact_freezes_until_resolved(api, world):
    me, col1, comp = api.as_("b0000001"), api.as_("col1"), api.as_("comp1")
    for body in ({"borrower_id": world["other_borrower"]}, {"loan_id": world["other_loan"]}):
        r = api.post("/api/v1/complaints", headers=me, json={"category": "harassment", "text": "骚扰", **body})
        assert r.status_code in (404, 422), r.text
    filed = api.post("/api/v1/complaints", headers=me,
                     json={"category": "harassment", "text": "晚上十点后打电话", "channel": "regulator"})
    assert filed.status_code == 201, filed.text
    c = filed.json()
    filed_day = datetime.fromisoformat(c["filed_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert (c["borrower_id"], c["channel"], c["status"], c["sla_due_on"]) == (
        world["borrower"], "portal", "open", (filed_day + timedelta(days=15)).isoformat())  # policy.yaml: 15 days
    assert api.get(f"/api/v1/complaints/{c['id']}", headers=me).status_code == 403
    frozen = api.post(f"/api/v1/cases/{world['case']}/contacts", headers=col1,
                      json={"method": "call", "at": "2026-03-10T04:00:00Z"})
    assert frozen.status_code == 409 and frozen.json()["rule"] == "open_complaint"
    assert frozen.json()["next_allowed_at"] is None
    staff = api.post("/api/v1/complaints", headers=col1, json={"category": "service", "text": "x"})
    assert staff.status_code == 422 and staff.json()["rule"] == "complaint.borrower"
    full = api.get(f"/api/v1/complaints/{c['id']}", headers=comp).json()
    assert full["text"] == "晚上十点后打电话"
    assert api.get("/api/v1/complaints?status=open", headers=comp).json()["total"] == 1
    assigned = api.post(f"/api/v1/complaints/{c['id']}/assign", headers=comp,
                        json={"assignee_user_id": 2, "expected_version": 1})
    assert assigned.status_code == 200 and assigned.json()["status"] == "in_progress", assigned.text
    stale = api.post(f"/api/v1/complaints/{c['id']}/close", headers=comp,
                     json={"status": "resolved", "resolution": "已致歉", "expected_version": 1})
    assert stale.status_code == 409
    done = api.post(f"/api/v1/complaints/{c['id']}/close", headers=comp,
                    json={"status": "resolved", "resolution": "已致歉并调整外呼时间", "expected_version": 2})
    assert done.status_code == 200 and done.json()["resolution"] == "已致歉并调整外呼时间"
    again = api.post(f"/api/v1/cases/{world['case']}/contacts", headers=col1,
                     json={"method": "call", "at": "2026-03-10T04:00:00Z"})
    assert again.status_code == 201, again.text
    stats = api.get("/api/v1/complaints/stats", headers=comp).json()
    assert stats["by_status"] == {"resolved": 1} and stats["by_category"] == {"harassment": 1}
