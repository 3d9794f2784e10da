"""Borrower sign-in with a one-time code (the portal's ``/portal/login``).

The borrower gives their mobile number or borrower number; a code goes out by SMS through the outbox (template
``sign_in_code``, purpose ``sign_in``: the borrower asked for it, so no freeze — do-not-contact, an open
complaint, collection stopped — holds it back; see compliance/forbidden.yaml). Only its keyed digest is stored
(``auth.codes``, shared with agreement signing); it expires, allows a limited number of wrong tries, and each
borrower is sent at most a few codes per window (``one_time.yaml``).

Nothing here tells the caller whether the number belongs to a borrower: ``request_code`` answers the same way
for an unknown number, a borrower over the limit or one without a phone, and ``verify_code`` fails the same way
for an unknown number and a wrong, used or expired code (the outcome's ``rule`` says which, for the audit trail
and tests; pages must show one message). A right code signs in the borrower's account — created on first sign-in
with the borrower role and an unusable random password — and issues the normal session token.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.codes import code_digest, code_matches, new_code
from arrears.auth.service import DEFAULT_TOKEN_TTL, IssuedToken, create_user, issue_token
from arrears.auth.tables import SignInCode, User
from arrears.contact.outbox import queue_message
from arrears.db.base import utcnow
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "one_time.yaml"
PURPOSE = "sign-in-code"
TEMPLATE = "sign_in_code"
ACTOR = "portal"
_PHONE = re.compile(r"^(?:\+?86)?(1[0-9]{10})$")


class CodePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code_digits: int = Field(ge=4, le=10)
    code_valid_minutes: int = Field(ge=1, le=60)
    code_max_attempts: int = Field(ge=1, le=20)
    max_codes_per_window: int = Field(ge=1, le=100)
    window_minutes: int = Field(ge=1, le=24 * 60)
    channel: str = Field(pattern=r"^sms$")
    source: str = Field(min_length=3)


@lru_cache(maxsize=1)
def policy() -> CodePolicy:
    return validate_model(CodePolicy, read_yaml(PACKAGED), PACKAGED)  # type: ignore[return-value]


def normalise(identifier: str) -> str:
    """Spaces, dashes and a +86 prefix dropped; letters upper-cased (borrower numbers)."""
    return re.sub(r"[\s-]", "", identifier or "").upper()


def find_borrower(session: Session, cipher: PersonalDataCipher, identifier: str) -> Borrower | None:
    """The borrower with this mobile number (by its keyed digest) or borrower number, else None."""
    text = normalise(identifier)
    if not text:
        return None
    phone = _PHONE.match(text)
    if phone is not None:
        found = session.scalars(select(Borrower).where(Borrower.phone_digest == cipher.digest(phone.group(1)))
                                .order_by(Borrower.id).limit(2)).all()
        if len(found) == 1:  # a number shared by two borrowers signs in neither: use the borrower number
            return found[0]
        if found:
            return None
    return session.scalar(select(Borrower).where(Borrower.borrower_no == text))


@dataclass(frozen=True)
class CodeRequest:
    """What happened, for tests and the trail. Pages answer the same whatever ``outcome`` is."""

    outcome: str  # sent | unknown | rate_limited | undeliverable
    borrower_id: int | None = None
    message_id: int | None = None
    expires_at: datetime | None = None


def request_code(session: Session, cipher: PersonalDataCipher, identifier: str, *,
                 now: datetime | None = None, pol: CodePolicy | None = None) -> CodeRequest:
    """Sends a new code to the borrower's phone (the outbox) unless over the limit; earlier codes stop working."""
    pol, at = pol or policy(), now or utcnow()
    borrower = find_borrower(session, cipher, identifier)
    if borrower is None:
        return CodeRequest("unknown")
    since = at - timedelta(minutes=pol.window_minutes)
    recent = session.scalar(select(func.count()).select_from(SignInCode).where(
        SignInCode.borrower_id == borrower.id, SignInCode.created_at > since)) or 0
    if recent >= pol.max_codes_per_window:
        append_event(session, actor=ACTOR, action="auth.sign_in_code_refused", subject_type="borrower",
                     subject_id=borrower.id, borrower_id=borrower.id, occurred_at=at,
                     after={"reason": "rate_limited", "window_minutes": pol.window_minutes})
        return CodeRequest("rate_limited", borrower.id)
    code, expires = new_code(pol.code_digits), at + timedelta(minutes=pol.code_valid_minutes)
    try:
        with savepoint(session):
            msg = queue_message(session, cipher=cipher, borrower_id=borrower.id, channel=pol.channel,
                                template=TEMPLATE, variables={"code": code, "valid_minutes": pol.code_valid_minutes},
                                dedupe_key=f"signin:{borrower.id}:{secrets.token_hex(8)}", expires_at=expires,
                                actor=ACTOR, now=at)
    except Problem as exc:  # no usable phone on file: nothing to send, and nothing to tell the caller
        append_event(session, actor=ACTOR, action="auth.sign_in_code_refused", subject_type="borrower",
                     subject_id=borrower.id, borrower_id=borrower.id, occurred_at=at,
                     after={"reason": exc.rule or "undeliverable"})
        return CodeRequest("undeliverable", borrower.id)
    for old in session.scalars(select(SignInCode).where(SignInCode.borrower_id == borrower.id,
                                                        SignInCode.used_at.is_(None))):
        old.used_at = at  # superseded
    row = SignInCode(borrower_id=borrower.id, code_digest="", expires_at=expires, attempts=0,
                     max_attempts=pol.code_max_attempts, message_id=msg.id, created_at=at)
    session.add(row)
    session.flush()
    row.code_digest = code_digest(cipher, PURPOSE, row.id, code)
    session.flush()
    append_event(session, actor=ACTOR, action="auth.sign_in_code_sent", subject_type="borrower",
                 subject_id=borrower.id, borrower_id=borrower.id, occurred_at=at,
                 after={"code_id": row.id, "message_id": msg.id, "expires_at": expires.isoformat()})
    return CodeRequest("sent", borrower.id, msg.id, expires)


@dataclass(frozen=True)
class SignInOutcome:
    """A failed try is an outcome, not an exception, so its counted attempt is committed with the request."""

    signed_in: bool
    rule: str = ""  # signin.unknown | signin.no_code | signin.code_expired | signin.attempts_exhausted |
    #                 signin.code_wrong | signin.account_inactive
    user: User | None = None
    issued: IssuedToken | None = None


def verify_code(session: Session, cipher: PersonalDataCipher, identifier: str, code: str, *,
                ttl: timedelta = DEFAULT_TOKEN_TTL, now: datetime | None = None) -> SignInOutcome:
    at = now or utcnow()
    borrower = find_borrower(session, cipher, identifier)
    if borrower is None:
        return SignInOutcome(False, "signin.unknown")
    row = session.scalar(select(SignInCode).where(SignInCode.borrower_id == borrower.id, SignInCode.used_at.is_(None))
                         .order_by(SignInCode.id.desc()).limit(1))
    if row is None:
        return SignInOutcome(False, "signin.no_code")
    if at >= row.expires_at:
        return SignInOutcome(False, "signin.code_expired")
    if row.attempts >= row.max_attempts:
        return SignInOutcome(False, "signin.attempts_exhausted")
    row.attempts += 1
    if not code_matches(row.code_digest, cipher, PURPOSE, row.id, code):
        session.flush()
        append_event(session, actor=ACTOR, action="auth.sign_in_code_failed", subject_type="borrower",
                     subject_id=borrower.id, borrower_id=borrower.id, occurred_at=at,
                     after={"code_id": row.id, "attempts_left": row.max_attempts - row.attempts})
        return SignInOutcome(False, "signin.code_wrong")
    row.used_at = at
    user = _account(session, cipher, borrower)
    if not user.active:
        session.flush()
        return SignInOutcome(False, "signin.account_inactive", user)
    return SignInOutcome(True, user=user, issued=issue_token(session, user, ttl=ttl, now=at))


def _account(session: Session, cipher: PersonalDataCipher, borrower: Borrower) -> User:
    """The borrower's own account, created on first sign-in (borrower role, a random password nobody knows)."""
    user = session.scalar(select(User).where(User.borrower_id == borrower.id, User.role == "borrower")
                          .order_by(User.active.desc(), User.id).limit(1))
    if user is not None:
        return user
    username = borrower.borrower_no.lower()
    if not re.match(r"^[a-z0-9][a-z0-9_.@-]{2,59}$", username) or \
            session.scalar(select(User.id).where(User.username == username)) is not None:
        username = f"borrower-{borrower.id}"
    return create_user(session, username=username, display_name=cipher.decrypt(borrower.name_enc),
                       password=secrets.token_urlsafe(32), role="borrower", borrower_id=borrower.id, actor=ACTOR)
