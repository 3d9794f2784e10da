"""The case page's later outcome of a contact (once: a second try says someone recorded it) and the borrower's
do-not-contact flag set and lifted by a supervisor with a reason, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from arrears.cases.tables import BorrowerFlag, ContactLog

pytestmark = pytest.mark.business_date("2026-03-10")


def test_a_contact_gets_its_outcome_later_once(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    r = site.post(f"/cases/{case}/contact", data={"method": "call", "purpose": "collect", "outcome": ""},
                  follow_redirects=False)
    assert r.status_code == 303
    with db.session() as s:
        contact = s.scalars(select(ContactLog.id).where(ContactLog.case_id == case)).one()
    page = site.get(f"/cases/{case}").text
    assert f'id="outcome-{contact}-form"' in page
    url = f"/cases/{case}/contacts/{contact}/outcome"
    r = site.post(url, data={"outcome": ""})
    assert r.status_code == 400 and f'id="outcome-{contact}-outcome-error"' in r.text
    r = site.post(url, data={"outcome": "no_answer"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=outcome"
    page = site.get(r.headers["location"]).text
    assert "结果已登记" in page and "无人接听" in page and f'id="outcome-{contact}-form"' not in page
    r = site.post(url, data={"outcome": "right_party"})  # a second time (another tab, another person)
    assert r.status_code == 409 and "已有其他人登记了这次联系的结果" in r.text
    with db.session() as s:
        assert s.get(ContactLog, contact).outcome == "no_answer"
    assert site.post(f"/cases/{case}/contacts/999999/outcome", data={"outcome": "no_answer"}).status_code == 404


def test_a_supervisor_stops_and_allows_contact(site, db):
    case, borrower = site.world.cases["owned"], site.world.borrowers["owned"]
    site.login("col1")
    assert 'id="dnc-form"' not in site.get(f"/cases/{case}").text  # a collector does not decide this
    assert site.post(f"/cases/{case}/do-not-contact", data={"on": "on", "reason": "x"}).status_code == 403
    site.post("/logout")
    site.login("sup1")
    r = site.post(f"/cases/{case}/do-not-contact", data={"on": "on", "reason": ""})
    assert r.status_code == 400 and 'id="dnc-reason-error"' in r.text
    r = site.post(f"/cases/{case}/do-not-contact", data={"on": "on", "reason": "借款人书面要求停止电话联系"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=dnc_on"
    page = site.get(r.headers["location"]).text
    assert 'class="flag"' in page and "do_not_contact" in page  # the flag, and the guard refuses by its rule
    with db.session() as s:
        assert s.scalars(select(BorrowerFlag.do_not_contact).where(BorrowerFlag.borrower_id == borrower)).one()
    r = site.post(f"/cases/{case}/do-not-contact", data={"on": "off", "reason": "借款人同意恢复联系"},
                  follow_redirects=False)
    assert r.headers["location"] == f"/cases/{case}?done=dnc_off"
    assert 'class="flag"' not in site.get(r.headers["location"]).text
