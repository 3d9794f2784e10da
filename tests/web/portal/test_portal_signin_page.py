"""Signing in to the portal with a one-time code: the same answer for any number, the code's errors next to its
field, the session and the account on first sign-in; the password sign-in stays."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from arrears.auth.tables import User
from arrears.contact.tables import OutboxMessage
from conftest import PHONES


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_signed_out_portal_pages_lead_to_the_code_sign_in(portal):
    for path in ("/portal", f"/portal/loans/{portal.ids['mine']}", "/portal/messages", "/portal/complaints"):
        r = portal.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal/login", path
    page = portal.get("/portal/login")
    assert "手机号码或借款人编号" in page.text and 'autocomplete="tel"' in page.text


def test_a_known_and_an_unknown_number_get_the_same_answer(portal):
    known = portal.post("/portal/login", data={"identifier": PHONES["mine"]})
    unknown = portal.post("/portal/login", data={"identifier": "13999999999"})
    assert known.status_code == unknown.status_code == 200
    assert _visible(known.text).replace(PHONES["mine"], "X") == _visible(unknown.text).replace("13999999999", "X")
    assert "如该号码已在我行登记" in known.text and 'autocomplete="one-time-code"' in known.text
    with portal.db.session() as s:  # only the known number was sent a code
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_right_code_signs_in_and_creates_the_account(portal):
    r = portal.sign_in("mine")
    assert "arrears_session" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    home = portal.get("/portal")
    assert home.status_code == 200 and "您好，王小明" in home.text
    with portal.db.session() as s:
        user = s.scalar(select(User).where(User.borrower_id == portal.ids["mine_borrower"]))
        assert user.role == "borrower" and user.username == "b0001"


def test_a_wrong_code_is_named_next_to_the_field_like_an_unknown_number(portal):
    portal.post("/portal/login", data={"identifier": PHONES["mine"]})
    code = portal.last_code(portal.ids["mine_borrower"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = portal.post("/portal/login/code", data={"identifier": PHONES["mine"], "code": wrong})
    assert r.status_code == 400 and 'id="code-error"' in r.text and "验证码不正确或已失效" in r.text
    assert 'aria-invalid="true"' in r.text and "arrears_session" not in r.headers.get("set-cookie", "")
    unknown = portal.post("/portal/login/code", data={"identifier": "13999999999", "code": wrong})
    assert unknown.status_code == 400
    assert _visible(unknown.text).replace("13999999999", "X") == _visible(r.text).replace(PHONES["mine"], "X")


def test_form_errors_are_shown_next_to_their_fields(portal):
    r = portal.post("/portal/login", data={"identifier": "  "})
    assert r.status_code == 400 and 'id="identifier-error"' in r.text and "必填" in r.text
    r = portal.post("/portal/login/code", data={"identifier": PHONES["mine"], "code": "12a"})
    assert r.status_code == 400 and "请输入 6 位验证码" in r.text and f'value="{PHONES["mine"]}"' in r.text


def test_the_english_page_says_the_same(portal):
    portal.cookies.set("lang", "en")
    r = portal.post("/portal/login", data={"identifier": PHONES["mine"]})
    assert "If this number is registered with us, a code is on its way by SMS" in r.text


def test_staff_are_sent_to_their_own_pages_and_the_password_sign_in_stays(portal):
    assert portal.login("supervisor").headers["location"] == "/loans"
    assert portal.get("/portal", follow_redirects=False).headers["location"] == "/loans"
    assert "/portal/login" in portal.get("/login").text  # the way to the borrowers' sign-in
