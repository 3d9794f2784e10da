"""The server-rendered pages: sign-in, the loan book, a loan's page with masked personal data, and a
borrower's own view, which can never show another borrower's loan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arrears.auth import service
from arrears.loans.model import LoanTerms
from arrears.privacy import PersonalDataCipher
from arrears.products.model import RepaymentMethod
from support import PASSWORD, add_borrower, add_generated_loan

pytestmark = pytest.mark.business_date("2026-06-10")
TERMS = LoanTerms(1_200_000, Decimal("0.0435"), 12, RepaymentMethod.equal_instalment, date(2026, 1, 5),
                  date(2026, 2, 5))


@pytest.fixture
def site(db, secret_key, make_client):
    cipher = PersonalDataCipher(secret_key)
    with db.session() as s:
        pii = {"id_number": "110101199003076632", "phone": "13800000001", "cipher": cipher}
        mine, other = add_borrower(s, "B1", "王小明", **pii), add_borrower(s, "B2", "李小红", **pii)
        ids = {"mine": add_generated_loan(s, mine, "L1", TERMS).id,
               "other": add_generated_loan(s, other, "L2", TERMS).id}
        service.create_user(s, username="wangxm", display_name="王小明", password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=mine.id)
        s.commit()
    with make_client("collector", "supervisor") as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def test_signed_out_pages_lead_to_sign_in(site):
    assert "登录" in site.get("/").text
    r = site.get("/loans", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_big_book_is_never_counted_in_full(site, monkeypatch):
    from arrears.web import pages

    monkeypatch.setattr(pages, "COUNT_CAP", 1)  # the book holds 2 loans: more than the cap
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    site.login("collector")
    first = site.get("/loans").text
    assert "超过 1 笔" in first and "第 1 页" in first and "共 2 笔" not in first and 'rel="next"' in first
    second = site.get("/loans?page=2").text
    assert 'rel="prev"' in second and 'rel="next"' not in second  # the last row: no page after it


def test_wrong_password_is_explained_next_to_the_field(site):
    r = site.login("collector", "nope")
    assert r.status_code == 400 and "用户名或密码不正确" in r.text and 'value="collector"' in r.text
    r = site.login("", "")
    assert r.text.count("必填") == 2


def test_collector_sees_the_book_and_masked_personal_data(site):
    assert site.login("collector").headers["location"] == "/loans"
    book = site.get("/loans")
    assert book.status_code == 200 and "L1" in book.text and "L2" in book.text and "共 2 笔" in book.text
    page = site.get(f"/loans/{site.ids['mine']}")
    assert page.status_code == 200
    assert "王*" in page.text and "王小明" not in page.text and "1101**********6632" in page.text
    assert "12,000.00" in page.text and "还款计划" in page.text


def test_supervisor_sees_unmasked_data_and_the_timeline(site):
    site.login("supervisor")
    page = site.get(f"/loans/{site.ids['mine']}")
    assert "王小明" in page.text and "loan.booked" in page.text


def test_borrower_sees_only_their_own_loan(site):
    assert site.login("wangxm").headers["location"] == "/portal"
    portal = site.get("/portal")
    assert "您好，王小明" in portal.text and "L1" in portal.text and "L2" not in portal.text
    assert site.get(f"/loans/{site.ids['other']}").status_code == 404
    assert site.get(f"/loans/{site.ids['mine']}").status_code == 200


def test_sign_out_ends_the_session(site):
    site.login("collector")
    token = site.cookies.get("arrears_session")
    site.post("/logout")
    site.cookies.set("arrears_session", token)  # replaying the old cookie does not work either
    assert site.get("/loans", follow_redirects=False).headers["location"] == "/login"


def test_loan_page_shows_the_end_of_day_state(site, db, tmp_path):
    from arrears.delinquency.service import run_date
    from arrears.delinquency.snapshots import SnapshotStore

    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), date(2026, 6, 10), today=date(2026, 6, 10))
    site.login("collector")
    page = site.get(f"/loans/{site.ids['mine']}").text
    # Nothing paid since the first due date, 2026-02-05: 125 days, M5, 严重逾期, and 次级 (more than 90 days).
    assert "125 天" in page and "严重逾期（M5）" in page and "次级" in page


def test_the_book_is_searched_by_loan_or_borrower_number(site):
    site.login("collector")
    by_loan, by_borrower = site.get("/loans?q=L2").text, site.get("/loans?q=B1").text
    assert "L2" in by_loan and "L1" not in by_loan and "共 1 笔" in by_loan
    assert "L1" in by_borrower and "L2" not in by_borrower
    assert "共 0 笔" in site.get("/loans?q=nobody").text
