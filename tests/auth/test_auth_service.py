"""Accounts and tokens at the service level, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.auth import service
from arrears.auth.model import Permission, Role, permissions_for
from arrears.auth.tables import Token
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, Unauthorized
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher

PASSWORD = "correct horse battery"


def _user(s, username="wang.li", role="collector", **kw):
    return service.create_user(s, username=username, display_name="王力", password=PASSWORD, role=role,
                               actor="admin", **kw)


def _borrower(s, secret_key: bytes) -> Borrower:
    c = PersonalDataCipher(secret_key)
    idn, phone = "110101199003071234", "13812345678"
    b = Borrower(borrower_no="B001", name_enc=c.encrypt("张三"), id_number_enc=c.encrypt(idn),
                 id_number_digest=c.digest(idn), phone_enc=c.encrypt(phone), phone_digest=c.digest(phone))
    s.add(b)
    s.flush()
    return b


def _events(s, action: str) -> list[Event]:
    return list(s.scalars(select(Event).where(Event.action == action).order_by(Event.id)))


def test_create_user_stores_an_argon2_hash_and_records_an_event(db):
    with db.session() as s:
        user = service.create_user(s, username=" Wang.Li ", display_name="王力", password=PASSWORD,
                                   role="collector", team="east", actor="admin")
        s.commit()
        assert user.username == "wang.li" and user.active
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        (event,) = _events(s, "user.created")
        assert (event.actor, event.subject_type, event.subject_id) == ("admin", "user", str(user.id))
        assert event.after == {"username": "wang.li", "role": "collector", "team": "east", "active": True}


@pytest.mark.parametrize("kw, rule", [
    ({"username": "x"}, "username.pattern"),
    ({"role": "janitor"}, "role.known"),
    ({"role": "borrower"}, "borrower_id.required"),
    ({"role": "borrower", "borrower_id": 999}, "borrower_id.exists"),
])
def test_create_user_refuses_bad_input_naming_the_rule(db, kw, rule):
    with db.session() as s, pytest.raises(InvalidInput) as err:
        _user(s, **kw)
    assert err.value.rule == rule


def test_create_user_refuses_short_password_duplicate_name_and_staff_with_a_borrower(db, secret_key):
    with db.session() as s:
        with pytest.raises(InvalidInput) as err:
            service.create_user(s, username="a.b", display_name="A", password="short", role="admin",
                                actor="x")
        assert err.value.field == "password"
        _user(s)
        with pytest.raises(Conflict) as conflict:
            _user(s, username="WANG.LI")
        assert conflict.value.rule == "username.unique"
        borrower = _borrower(s, secret_key)
        with pytest.raises(InvalidInput) as err:
            _user(s, username="staff.two", borrower_id=borrower.id)
        assert err.value.rule == "borrower_id.not_allowed"
        assert _user(s, username="b001", role="borrower", borrower_id=borrower.id).borrower_id == borrower.id


def test_authenticate_good_bad_unknown_and_inactive(db):
    with db.session() as s:
        user = _user(s)
        assert service.authenticate(s, "Wang.Li", PASSWORD).id == user.id
        with pytest.raises(Unauthorized) as wrong:
            service.authenticate(s, "wang.li", PASSWORD + "x")
        with pytest.raises(Unauthorized) as unknown:
            service.authenticate(s, "nobody", PASSWORD)
        # Same answer whether the name exists or not: a guesser learns nothing.
        assert (wrong.value.detail, wrong.value.rule) == (unknown.value.detail, unknown.value.rule)
        assert wrong.value.rule == "auth.credentials"
        service.set_user_active(s, user_id=user.id, active=False, actor="admin", reason="left the bank")
        with pytest.raises(Unauthorized) as inactive:
            service.authenticate(s, "wang.li", PASSWORD)
        assert inactive.value.rule == "auth.account_inactive"
        with pytest.raises(Unauthorized) as inactive_wrong:
            service.authenticate(s, "wang.li", "not the password")
        assert inactive_wrong.value.rule == "auth.credentials"  # disabled is told only to the owner
        assert [e.after for e in _events(s, "user.deactivated")] == [{"active": False}]


def test_sign_in_stores_only_the_digest_and_records_the_sign_in(db):
    with db.session() as s:
        user = _user(s)
        before = utcnow()
        _, issued = service.sign_in(s, "wang.li", PASSWORD)
        s.commit()
        row = s.get(Token, issued.token_id)
        assert len(issued.token) >= 43  # 32 random bytes, url-safe base64
        assert row.token_digest == hashlib.sha256(issued.token.encode()).hexdigest()
        assert s.scalar(select(Token).where(Token.token_digest == issued.token)) is None and not row.revoked
        assert timedelta(hours=12) <= row.expires_at - before < timedelta(hours=12, minutes=1)
        (event,) = _events(s, "user.signed_in")
        assert event.subject_id == str(user.id) and event.after["token_id"] == row.id
        assert issued.token not in str(event.after)
        _, again = service.sign_in(s, "wang.li", PASSWORD)
        assert again.token != issued.token


def test_resolve_token_gives_the_principal_until_expiry(db):
    with db.session() as s:
        user = _user(s, role="supervisor", team="north")
        now = utcnow()
        issued = service.issue_token(s, user, ttl=timedelta(hours=2), now=now)
        principal = service.resolve_token(s, issued.token, now=now + timedelta(hours=1))
        assert (principal.user_id, principal.role, principal.team) == (user.id, Role.supervisor, "north")
        assert principal.permissions == permissions_for("supervisor")
        assert principal.can(Permission.payments_reverse) and not principal.can(Permission.users_manage)
        with pytest.raises(Unauthorized) as expired:
            service.resolve_token(s, issued.token, now=now + timedelta(hours=2))
        assert expired.value.rule == "auth.token_expired"
        with pytest.raises(Unauthorized) as unknown:
            service.resolve_token(s, "not-a-token", now=now)
        assert unknown.value.rule == "auth.token_invalid"
        with pytest.raises(InvalidInput):
            service.issue_token(s, user, ttl=timedelta(0))


def test_revoked_tokens_and_disabled_accounts_are_refused(db):
    with db.session() as s:
        user = _user(s)
        first = service.issue_token(s, user)
        second = service.issue_token(s, user)
        service.revoke_token(s, first.token, actor=user.username)
        service.revoke_token(s, first.token, actor=user.username)  # again: no-op, no second event
        s.commit()
        with pytest.raises(Unauthorized) as revoked:
            service.resolve_token(s, first.token)
        assert revoked.value.rule == "auth.token_revoked"
        assert service.resolve_token(s, second.token).user_id == user.id  # other sessions unaffected
        assert len(_events(s, "user.signed_out")) == 1
        service.set_user_active(s, user_id=user.id, active=False, actor="admin")
        with pytest.raises(Unauthorized) as disabled:
            service.resolve_token(s, second.token)
        assert disabled.value.rule == "auth.account_inactive"
        with pytest.raises(Unauthorized):
            service.revoke_token(s, "unknown", actor="x")
