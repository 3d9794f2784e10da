"""The server-rendered pages: sign-in, the loan book, a loan's page with masked personal data, and a
borrower's own view, which can never show another borrower's loan."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from arrears.auth import service
from arrears.ledger.service import book_loan
from arrears.loans.model import LoanTerms
from arrears.loans.schedules import generate_schedule
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.products.model import RepaymentMethod
from arrears.settings import Settings
from arrears.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", "2026-06-10")


def _borrower(s, cipher, no, name):
    b = Borrower(borrower_no=no, name_enc=cipher.encrypt(name), id_number_enc=cipher.encrypt("110101199003076632"),
                 id_number_digest="d" + no, phone_enc=cipher.encrypt("13800000001"), phone_digest="p" + no)
    s.add(b)
    s.flush()
    return b


def _loan(s, borrower_id, loan_no):
    terms = LoanTerms(1_200_000, Decimal("0.0435"), 12, RepaymentMethod.equal_instalment, date(2026, 1, 5),
                      date(2026, 2, 5))
    return book_loan(s, borrower_id=borrower_id, loan_no=loan_no, product_code="consumer_loan",
                     method="equal_instalment", principal_fen=terms.principal_fen, annual_rate=terms.annual_rate,
                     term=12, disbursed_on=terms.disbursed_on, first_due_on=terms.first_due_on,
                     schedule=generate_schedule(terms, catalog().product("consumer_loan")), actor="setup")


@pytest.fixture
def site(db, tmp_path, secret_key):
    cipher = PersonalDataCipher(secret_key)
    with db.session() as s:
        mine, other = _borrower(s, cipher, "B1", "王小明"), _borrower(s, cipher, "B2", "李小红")
        ids = {"mine": _loan(s, mine.id, "L1").id, "other": _loan(s, other.id, "L2").id}
        for role in ("collector", "supervisor"):
            service.create_user(s, username=role, display_name=role, password=PASSWORD, role=role, actor="setup")
        service.create_user(s, username="wangxm", display_name="王小明", password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=mine.id)
        s.commit()
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key))
    with TestClient(app) as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def _login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def test_signed_out_pages_lead_to_sign_in(site):
    assert "登录" in site.get("/").text
    r = site.get("/loans", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_wrong_password_is_explained_next_to_the_field(site):
    r = _login(site, "collector", "nope")
    assert r.status_code == 400 and "用户名或密码不正确" in r.text and 'value="collector"' in r.text
    r = _login(site, "", "")
    assert r.text.count("必填") == 2


def test_collector_sees_the_book_and_masked_personal_data(site):
    assert _login(site, "collector").headers["location"] == "/loans"
    book = site.get("/loans")
    assert book.status_code == 200 and "L1" in book.text and "L2" in book.text and "共 2 笔" in book.text
    page = site.get(f"/loans/{site.ids['mine']}")
    assert page.status_code == 200
    assert "王*" in page.text and "王小明" not in page.text and "1101**********6632" in page.text
    assert "12,000.00" in page.text and "还款计划" in page.text


def test_supervisor_sees_unmasked_data_and_the_timeline(site):
    _login(site, "supervisor")
    page = site.get(f"/loans/{site.ids['mine']}")
    assert "王小明" in page.text and "loan.booked" in page.text


def test_borrower_sees_only_their_own_loan(site):
    assert _login(site, "wangxm").headers["location"] == "/portal"
    portal = site.get("/portal")
    assert "您好，王小明" in portal.text and "L1" in portal.text and "L2" not in portal.text
    assert site.get(f"/loans/{site.ids['other']}").status_code == 404
    assert site.get(f"/loans/{site.ids['mine']}").status_code == 200


def test_sign_out_ends_the_session(site):
    _login(site, "collector")
    token = site.cookies.get("arrears_session")
    site.post("/logout")
    site.cookies.set("arrears_session", token)  # replaying the old cookie does not work either
    assert site.get("/loans", follow_redirects=False).headers["location"] == "/login"
