"""Complaints: the borrower files one (category, text) and follows its status to the answer; errors next to the
fields with the text kept; nobody else's complaint."""

from __future__ import annotations

from sqlalchemy import func, select

from arrears.cases.flags import borrower_flags
from arrears.complaints import service
from arrears.complaints.tables import Complaint
from arrears.db.base import utcnow


def test_filing_a_complaint_and_following_it_to_the_answer(portal):
    portal.sign_in()
    page = portal.get("/portal/complaints").text
    assert '<label for="category">' in page and "催收骚扰" in page
    r = portal.post("/portal/complaints", data={"category": "harassment", "text": "晚上十点还打电话",
                                                "loan_id": str(portal.ids["mine"])},
                    follow_redirects=False)
    assert r.status_code == 303
    detail = portal.get(r.headers["location"]).text
    assert "已受理" in detail and "晚上十点还打电话" in detail and "催收骚扰" in detail and "答复期限" in detail
    with portal.db.session() as s:
        c = s.scalar(select(Complaint))
        assert c.channel == "portal" and c.borrower_id == portal.ids["mine_borrower"] and c.loan_id == portal.ids["mine"]
        assert borrower_flags(s, c.borrower_id).open_complaint  # collection contact is frozen
        service.close_complaint(s, cipher=portal.cipher, complaint_id=c.id, status="resolved",
                                resolution="已对催收员进行处理", expected_version=c.version, actor="compliance",
                                at=utcnow())
        s.commit()
    detail = portal.get(r.headers["location"]).text
    assert "已解决" in detail and "已对催收员进行处理" in detail
    assert "已解决" in portal.get("/portal/complaints").text


def test_errors_are_named_at_their_fields_and_the_text_is_kept(portal):
    portal.sign_in()
    r = portal.post("/portal/complaints", data={"category": "", "text": "说明"})
    assert r.status_code == 400 and 'id="category-error"' in r.text and ">说明</textarea>" in r.text
    r = portal.post("/portal/complaints", data={"category": "service", "text": "   "})
    assert r.status_code == 400 and 'id="text-error"' in r.text
    r = portal.post("/portal/complaints", data={"category": "service", "text": "x", "loan_id": str(portal.ids["other"])})
    assert r.status_code == 400  # another borrower's loan: refused (the field is hidden for one loan)
    with portal.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 0


def test_another_borrowers_complaint_is_not_found(portal):
    with portal.db.session() as s:
        theirs = service.file_complaint(s, cipher=portal.cipher, borrower_id=portal.ids["other_borrower"],
                                        category="privacy", channel="phone", text="李小红的投诉", filed_at=utcnow(),
                                        actor="collector")
        s.commit()
        theirs_id = theirs.id
    portal.sign_in()
    r = portal.get(f"/portal/complaints/{theirs_id}")
    assert r.status_code == 404 and "李小红的投诉" not in r.text
    assert "李小红的投诉" not in portal.get("/portal/complaints").text
