"""The case page's third parties, field visits and letters on both backends: a third party registered (errors
next to the field), contacted only as the guard allows (its reason shown, the refusal logged), a visit scheduled
with two collectors through the guard, reported with evidence under its version (a stale form changes nothing)
or cancelled, and the letters and notices the outbox holds for the case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from workbench_world import NOON

from arrears.cases.tables import ContactLog, FieldVisit, ThirdParty
from arrears.contact.outbox import queue_message
from arrears.privacy import PersonalDataCipher

pytestmark = pytest.mark.business_date("2026-03-10")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _register(site, case: int, **data):
    return site.post(f"/cases/{case}/third-parties", data={"relation": "spouse", "name": "王丽", "phone": "13900001111",
                                                           "address": "", **data}, follow_redirects=False)


def _calls(site, case: int, n: int, outcome: str = "no_answer") -> None:
    for _ in range(n):
        r = site.post(f"/cases/{case}/contact", data={"method": "call", "purpose": "collect", "outcome": outcome},
                      follow_redirects=False)
        assert r.status_code == 303, r.text


def test_a_third_party_is_registered_with_errors_next_to_the_field(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    r = _register(site, case, relation="cousin", name="", phone="call me")
    assert r.status_code == 400
    for name in ("relation", "name", "phone"):
        assert f'id="third_party-{name}-error"' in r.text, name
    assert "请填写电话号码" in r.text and 'value="call me"' in r.text  # the typed value is kept
    r = _register(site, case, phone="")
    assert r.status_code == 400 and "请填写电话号码或地址" in r.text
    r = _register(site, case)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=third_party"
    page = site.get(r.headers["location"]).text
    assert "第三方联系人已登记" in page and "配偶" in page and "王*" in page and "王丽" not in page  # masked for a collector
    assert "third_party.debtor_reachable" in page  # the guard's answer now, with its reason
    with db.session() as s:
        assert s.scalars(select(ThirdParty.relation)).all() == ["spouse"]


def test_a_third_party_is_contacted_only_as_the_guard_allows(site, clock, db):
    case = site.world.cases["owned"]
    site.login("col1")
    _register(site, case)
    with db.session() as s:
        tp = s.scalars(select(ThirdParty.id)).one()
    contact = {"third_party_id": str(tp), "method": "call", "purpose": "locate", "outcome": "right_party",
               "message": "请让他回电", "note": ""}
    r = site.post(f"/cases/{case}/third-party-contact", data=contact)
    assert r.status_code == 409 and 'id="refusal"' in r.text and "third_party.debtor_reachable" in r.text
    assert "借款人" in _text(r.text)  # the guard's reason in Chinese
    _calls(site, case, 3)  # three unanswered calls in a row: the debtor is unreachable
    clock(NOON + timedelta(hours=1))
    r = site.post(f"/cases/{case}/third-party-contact", data={**contact, "message": "他欠款很久了"})
    assert r.status_code == 409 and "third_party.disclosure" in r.text  # what is said must not mention the debt
    r = site.post(f"/cases/{case}/third-party-contact", data={**contact, "purpose": "collect"})
    assert r.status_code == 400 and 'id="tp_contact-purpose-error"' in r.text  # never to collect
    r = site.post(f"/cases/{case}/third-party-contact", data=contact, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=tp_contact"
    assert "与第三方的联系已登记" in site.get(r.headers["location"]).text
    with db.session() as s:
        rows = s.execute(select(ContactLog.party, ContactLog.allowed, ContactLog.refused_rule)
                         .where(ContactLog.party == "third_party").order_by(ContactLog.id)).all()
    assert [tuple(r) for r in rows] == [("third_party", False, "third_party.debtor_reachable"),
                                        ("third_party", False, "third_party.disclosure"),
                                        ("third_party", True, None)]


def test_someone_elses_third_party_is_not_a_choice(site, db, secret_key):
    from arrears.cases.third_parties import register_third_party
    with db.session() as s:
        other = register_third_party(s, cipher=PersonalDataCipher(secret_key), borrower_id=site.world.borrowers["team"],
                                     relation="friend", name="赵六", actor="setup", phone="13900002222").id
        s.commit()
    site.login("col1")
    r = site.post(f"/cases/{site.world.cases['owned']}/third-party-contact",
                  data={"third_party_id": str(other), "method": "call", "purpose": "locate"})
    assert r.status_code == 400 and 'id="tp_contact-third_party_id-error"' in r.text


def _schedule(site, case: int, **data):
    return site.post(f"/cases/{case}/visits", data={"planned_at": "2026-03-11T10:00", "address_type": "home",
                                                    "second_collector": "", **data}, follow_redirects=False)


def test_a_visit_needs_two_collectors_a_later_time_and_the_guards_yes(site, db):
    case, users = site.world.cases["owned"], site.world.users
    site.login("col1")
    r = _schedule(site, case, planned_at="2026-03-09T10:00", address_type="moon")
    assert r.status_code == 400
    assert "外访时间须晚于现在" in r.text and 'id="visit-address_type-error"' in r.text
    r = _schedule(site, case)
    assert r.status_code == 400 and 'id="visit-second_collector-error"' in r.text and "两名催收员" in r.text
    r = _schedule(site, case, planned_at="2026-03-11T22:30", second_collector=str(users["col2"]))
    assert r.status_code == 409 and 'id="refusal"' in r.text and "quiet_hours" in r.text  # 22:30 in Shanghai
    r = _schedule(site, case, second_collector=str(users["col2"]))
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=visit"
    page = site.get(r.headers["location"]).text
    assert "外访已安排" in page and "2026年3月11日 10:00" in page and "COL1, COL2" in page and "已安排" in page
    with db.session() as s:
        visit = s.scalars(select(FieldVisit)).one()
        assert (visit.status, visit.second_collector_user_id) == ("scheduled", users["col2"])
    en = site.get(f"/cases/{case}?lang=en").text
    assert "11 Mar 2026 10:00" in en and "Report or cancel the visit of 11 Mar 2026 10:00" in en


def _scheduled_visit(site) -> tuple[int, int]:
    case = site.world.cases["owned"]
    assert _schedule(site, case, second_collector=str(site.world.users["col2"])).status_code == 303
    with site.db.session() as s:
        visit = s.scalars(select(FieldVisit)).one()
        return visit.id, visit.version


def test_a_visit_is_reported_with_evidence_and_a_stale_report_changes_nothing(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    visit, version = _scheduled_visit(site)
    url = f"/cases/{case}/visits/{visit}/report"
    report = {"outcome": "right_party", "report": "见到本人，说明了还款方式", "recording_ref": "", "version": str(version),
              "committee_involved": "on", "committee_name": ""}
    r = site.post(url, data=report)
    assert r.status_code == 400
    assert f'id="report-{visit}-recording_ref-error"' in r.text and f'id="report-{visit}-committee_name-error"' in r.text
    r = site.post(url, data={**report, "recording_ref": "REC-1", "committee_name": "幸福里社区居委会"},
                  files=[("evidence", ("note.png", b"MZ\x90\x00 a program", "image/png"))])
    assert r.status_code == 400 and f'id="report-{visit}-evidence-error"' in r.text
    r = site.post(url, data={**report, "recording_ref": "REC-1", "committee_name": "幸福里社区居委会",
                             "version": str(version + 1)})
    assert r.status_code == 409 and "已有其他人修改了这次外访" in r.text
    with db.session() as s:
        assert s.get(FieldVisit, visit).status == "scheduled"
    r = site.post(url, data={**report, "recording_ref": "REC-1", "committee_name": "幸福里社区居委会"},
                  files=[("evidence", ("photo.png", PNG, "image/png"))], follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=report"
    page = site.get(r.headers["location"]).text
    assert "外访报告已提交" in page and "见到本人" in page and "幸福里社区居委会 参与" in page
    assert f"/cases/{case}/documents/visit/{visit}/" in page  # the evidence among the documents
    with db.session() as s:
        v = s.get(FieldVisit, visit)
        assert (v.status, v.recording_ref, v.committee_involved) == ("reported", "REC-1", True)
        assert [e["type"] for e in v.evidence] == ["image/png"]


def test_a_visit_is_cancelled_with_a_reason(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    visit, version = _scheduled_visit(site)
    url = f"/cases/{case}/visits/{visit}/cancel"
    r = site.post(url, data={"reason": "", "version": str(version)})
    assert r.status_code == 400 and f'id="cancel-{visit}-reason-error"' in r.text
    r = site.post(url, data={"reason": "借款人已还款", "version": str(version)}, follow_redirects=False)
    assert r.status_code == 303 and "外访已取消" in site.get(r.headers["location"]).text
    with db.session() as s:
        assert s.get(FieldVisit, visit).status == "cancelled"


def test_the_letters_and_notices_of_the_case(site, db, secret_key):
    case, w = site.world.cases["owned"], site.world
    site.login("col1")
    assert "本案件尚未发送任何信函或通知" in site.get(f"/cases/{case}").text
    with db.session() as s:
        queue_message(s, cipher=PersonalDataCipher(secret_key), borrower_id=w.borrowers["owned"], channel="sms",
                      template="overdue_notice", dedupe_key="test:overdue:1", loan_id=w.loans["owned"], case_id=case,
                      variables={"borrower_name": "王小明", "loan_no": "L1", "due_on": NOON.date(), "days_overdue": 30,
                                 "amount_owed_fen": 60_900, "penalty_fen": 0}, now=NOON)
        s.commit()
    text = _text(site.get(f"/cases/{case}").text)
    assert "信函与通知" in text and "逾期通知" in text and "短信" in text and "等待发送" in text
    en = _text(site.get(f"/cases/{case}?lang=en").text)
    assert "Overdue notice" in en and "Waiting to be sent" in en


def test_a_visit_is_only_reached_through_its_own_case(site, db):
    """A visit's id under another case the user may see (or an unknown id) is not found, and nothing changes."""
    w = site.world
    site.login("col1")
    visit, version = _scheduled_visit(site)
    assert site.get(f"/cases/{w.cases['tasked']}").status_code == 200  # col1 may see that case too
    for url in (f"/cases/{w.cases['tasked']}/visits/{visit}/cancel", f"/cases/{w.cases['owned']}/visits/999999/cancel"):
        assert site.post(url, data={"reason": "借款人已还款", "version": str(version)}).status_code == 404
    with db.session() as s:
        assert s.get(FieldVisit, visit).status == "scheduled"
