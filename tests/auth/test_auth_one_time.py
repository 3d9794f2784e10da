"""Borrower sign-in with a one-time code, at the service level on SQLite and PostgreSQL: the code goes out through
the outbox and is kept only as a digest, expires, allows few tries, is rate-limited per borrower, passes the
contact freezes (the borrower asked for it), creates the account on first sign-in, and never tells whether a
number is known."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from arrears.auth import one_time, service
from arrears.auth.service import resolve_token
from arrears.auth.tables import SignInCode, User
from arrears.cases.flags import set_do_not_contact
from arrears.complaints.service import file_complaint
from arrears.contact.tables import OutboxMessage
from arrears.db.base import utcnow
from support import CIPHER, add_borrower

PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _code(s, message_id: int) -> str:
    body = CIPHER.decrypt(s.get(OutboxMessage, message_id).body_enc)
    return re.search(r"\d{6}", body).group(0)


def test_a_code_goes_out_by_sms_and_only_its_digest_is_kept(db):
    with db.session() as s:
        b = add_borrower(s, "B1", "王小明", phone=PHONE)
        sent = one_time.request_code(s, CIPHER, "138 1234 5678")
        assert sent.outcome == "sent" and sent.borrower_id == b.id
        msg = s.get(OutboxMessage, sent.message_id)
        assert msg.channel == "sms" and msg.template == "sign_in_code" and msg.purpose == "sign_in"
        assert CIPHER.decrypt(msg.recipient_enc) == PHONE and msg.expires_at == sent.expires_at
        code = _code(s, sent.message_id)
        row = s.scalar(select(SignInCode).where(SignInCode.borrower_id == b.id))
        assert code not in row.code_digest and len(row.code_digest) == 64
        assert (row.expires_at - row.created_at) == timedelta(minutes=one_time.policy().code_valid_minutes)


def test_the_right_code_creates_the_account_once_and_issues_a_session(db):
    with db.session() as s:
        b = add_borrower(s, "B0001", "王小明", phone=PHONE)
        sent = one_time.request_code(s, CIPHER, "b0001")  # the borrower number works too
        out = one_time.verify_code(s, CIPHER, PHONE, _code(s, sent.message_id))
        assert out.signed_in and out.user.role == "borrower" and out.user.borrower_id == b.id
        assert out.user.username == "b0001" and out.user.display_name == "王小明"
        me = resolve_token(s, out.issued.token)
        assert me.borrower_id == b.id and me.self_scoped
        # The code is used up; a second code signs in the same account.
        assert one_time.verify_code(s, CIPHER, PHONE, _code(s, sent.message_id)).rule == "signin.no_code"
        again = one_time.request_code(s, CIPHER, PHONE)
        assert one_time.verify_code(s, CIPHER, PHONE, _code(s, again.message_id)).user.id == out.user.id
        assert s.scalar(select(func.count()).select_from(User)) == 1
        s.commit()


def test_an_existing_borrower_account_is_used(db):
    with db.session() as s:
        b = add_borrower(s, "B1", phone=PHONE)
        user = service.create_user(s, username="wangxm", display_name="王小明", password="x" * 12,
                                   role="borrower", borrower_id=b.id, actor="setup")
        sent = one_time.request_code(s, CIPHER, PHONE)
        assert one_time.verify_code(s, CIPHER, PHONE, _code(s, sent.message_id)).user.id == user.id


def test_wrong_codes_are_counted_and_run_out(db):
    limit = one_time.policy().code_max_attempts
    with db.session() as s:
        add_borrower(s, "B1", phone=PHONE)
        sent = one_time.request_code(s, CIPHER, PHONE)
        code = _code(s, sent.message_id)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(limit):
            assert one_time.verify_code(s, CIPHER, PHONE, wrong).rule == "signin.code_wrong"
        s.commit()  # the attempts are kept with the request's transaction
        out = one_time.verify_code(s, CIPHER, PHONE, code)  # even the right code is refused now
        assert not out.signed_in and out.rule == "signin.attempts_exhausted"


def test_a_code_expires_and_a_new_one_replaces_the_old(db):
    with db.session() as s:
        add_borrower(s, "B1", phone=PHONE)
        at = utcnow()
        first = one_time.request_code(s, CIPHER, PHONE, now=at)
        late = at + timedelta(minutes=one_time.policy().code_valid_minutes)
        assert one_time.verify_code(s, CIPHER, PHONE, _code(s, first.message_id), now=late).rule == "signin.code_expired"
        second = one_time.request_code(s, CIPHER, PHONE, now=at + timedelta(minutes=1))
        old, new = _code(s, first.message_id), _code(s, second.message_id)
        if old != new:  # one chance in a million that they are equal
            assert one_time.verify_code(s, CIPHER, PHONE, old).rule == "signin.code_wrong"
        assert one_time.verify_code(s, CIPHER, PHONE, new).signed_in


def test_codes_are_rate_limited_per_borrower(db):
    pol = one_time.policy()
    with db.session() as s:
        add_borrower(s, "B1", phone=PHONE)
        add_borrower(s, "B2", phone="13900000000")
        at = utcnow()
        outcomes = [one_time.request_code(s, CIPHER, PHONE, now=at + timedelta(seconds=k)).outcome
                    for k in range(pol.max_codes_per_window + 1)]
        assert outcomes == ["sent"] * pol.max_codes_per_window + ["rate_limited"]
        assert one_time.request_code(s, CIPHER, "13900000000", now=at).outcome == "sent"  # others unaffected
        later = at + timedelta(minutes=pol.window_minutes, seconds=1)
        assert one_time.request_code(s, CIPHER, PHONE, now=later).outcome == "sent"
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == pol.max_codes_per_window + 2


def test_unknown_numbers_send_nothing_and_fail_like_a_wrong_code(db):
    with db.session() as s:
        add_borrower(s, "B1", phone=PHONE)
        assert one_time.request_code(s, CIPHER, "13700000000").outcome == "unknown"
        assert one_time.request_code(s, CIPHER, "").outcome == "unknown"
        out = one_time.verify_code(s, CIPHER, "13700000000", "123456")
        assert not out.signed_in and out.user is None and out.issued is None
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_do_not_contact_and_an_open_complaint_do_not_block_a_code_the_borrower_asked_for(db):
    with db.session() as s:
        b = add_borrower(s, "B1", phone=PHONE)
        set_do_not_contact(s, borrower_id=b.id, on=True, reason="asked to stop calls", actor="supervisor")
        file_complaint(s, cipher=CIPHER, borrower_id=b.id, category="harassment", channel="phone", text="太多电话",
                       filed_at=utcnow(), actor="collector")
        sent = one_time.request_code(s, CIPHER, PHONE)
        assert sent.outcome == "sent"
        assert one_time.verify_code(s, CIPHER, PHONE, _code(s, sent.message_id)).signed_in


def test_an_inactive_account_is_not_signed_in(db):
    with db.session() as s:
        b = add_borrower(s, "B1", phone=PHONE)
        user = service.create_user(s, username="wangxm", display_name="王", password="x" * 12, role="borrower",
                                   borrower_id=b.id, actor="setup")
        service.set_user_active(s, user_id=user.id, active=False, actor="admin")
        sent = one_time.request_code(s, CIPHER, PHONE)
        out = one_time.verify_code(s, CIPHER, PHONE, _code(s, sent.message_id))
        assert not out.signed_in and out.rule == "signin.account_inactive" and out.issued is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.text(alphabet="0123456789 ", min_size=0, max_size=8))
def test_only_the_exact_code_signs_in(db, typed):
    with db.session() as s:
        b = add_borrower(s, f"B{abs(hash(typed)) % 10**8}", phone=PHONE)
        sent = one_time.request_code(s, CIPHER, f"B{abs(hash(typed)) % 10**8}")
        code = _code(s, sent.message_id)
        out = one_time.verify_code(s, CIPHER, b.borrower_no, typed)
        assert out.signed_in == (typed.strip() == code)
        s.rollback()
