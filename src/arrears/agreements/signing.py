"""Signing: the borrower with a one-time code sent through the outbox (only its keyed digest is stored; it
expires and allows a limited number of attempts) and explicit consent, or an oral agreement recorded on a call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements.policy import policy
from arrears.agreements.service import expect_status, get_agreement, record_event
from arrears.agreements.tables import Agreement, SigningCode
from arrears.auth.codes import code_digest, code_matches, new_code
from arrears.contact.outbox import queue_message
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.privacy import PersonalDataCipher

CODE_PURPOSE = "agreement-code"


@dataclass(frozen=True)
class CodeSent:
    agreement: Agreement
    message_id: int
    expires_at: datetime


def send_for_signature(session: Session, *, agreement_id: int, actor: str, cipher: PersonalDataCipher,
                       now: datetime | None = None) -> CodeSent:
    """Queues a one-time code to the borrower (the outbox) and stores only its keyed digest. Sending again
    (a lost SMS) replaces the earlier code."""
    a = get_agreement(session, agreement_id)
    if a.signing_method != "portal":
        raise Conflict("an oral agreement is confirmed with its call recording, not a code",
                       field="signing_method", rule="agreement.oral_no_code")
    expect_status(a, "draft", "sent_for_signature")
    at, cfg = now or utcnow(), policy().signing
    for old in session.scalars(select(SigningCode).where(SigningCode.agreement_id == a.id,
                                                         SigningCode.used_at.is_(None))):
        old.used_at = at  # superseded
    code = new_code(cfg.code_digits)
    expires = at + timedelta(minutes=cfg.code_valid_minutes)
    row = SigningCode(agreement_id=a.id, code_digest=_code_digest(cipher, a.id, code), expires_at=expires,
                      attempts=0, max_attempts=cfg.code_max_attempts, created_at=at)
    session.add(row)
    session.flush()
    msg = queue_message(session, cipher=cipher, borrower_id=a.borrower_id, channel=cfg.code_channel,
                        template="one_time_code", variables={"code": code, "valid_minutes": cfg.code_valid_minutes},
                        dedupe_key=f"agreement:{a.id}:code:{row.id}", loan_id=a.loan_id, expires_at=expires,
                        actor=actor, now=at)
    row.message_id = msg.id
    before = a.status
    a.status = "sent_for_signature"
    session.flush()
    record_event(session, a, "agreement.sent_for_signature", actor, {"code_id": row.id, "message_id": msg.id,
                                                               "expires_at": expires.isoformat()},
           before={"status": before})
    return CodeSent(a, msg.id, expires)


def _code_digest(cipher: PersonalDataCipher, agreement_id: int, code: str) -> str:
    return code_digest(cipher, CODE_PURPOSE, agreement_id, code)


@dataclass(frozen=True)
class SignOutcome:
    """A wrong code is an outcome, not an exception, so the attempt is counted when the caller commits."""

    signed: bool
    rule: str = ""
    detail: str = ""
    attempts_left: int = 0


def borrower_sign(session: Session, *, agreement_id: int, borrower_id: int, code: str, consent: bool,
                  cipher: PersonalDataCipher, now: datetime | None = None) -> SignOutcome:
    """The borrower signs their own agreement with the code and explicit consent."""
    a = session.get(Agreement, agreement_id)
    if a is None or a.borrower_id != borrower_id:  # another borrower's agreement does not exist for them
        raise NotFound(f"no agreement {agreement_id}", field="agreement_id", rule="agreement.exists")
    expect_status(a, "sent_for_signature")
    if consent is not True:
        raise InvalidInput("signing needs your explicit consent to the agreement's terms", field="consent",
                           rule="agreement.consent")
    at = now or utcnow()
    row = session.scalar(select(SigningCode).where(SigningCode.agreement_id == a.id, SigningCode.used_at.is_(None))
                         .order_by(SigningCode.id.desc()).limit(1))
    if row is None:
        return SignOutcome(False, "signing.no_code", "no code is waiting: ask for a new one")
    if at >= row.expires_at:
        return SignOutcome(False, "signing.code_expired", "the code has expired: ask for a new one")
    if row.attempts >= row.max_attempts:
        return SignOutcome(False, "signing.attempts_exhausted", "too many wrong codes: ask for a new one")
    row.attempts += 1
    if not code_matches(row.code_digest, cipher, CODE_PURPOSE, a.id, code):
        left = row.max_attempts - row.attempts
        record_event(session, a, "agreement.sign_failed", f"borrower:{borrower_id}", {"code_id": row.id,
                                                                               "attempts_left": left})
        return SignOutcome(False, "signing.code_wrong", "the code is not right", left)
    row.used_at = at
    a.status, a.borrower_signed_at = "borrower_signed", at
    session.flush()
    record_event(session, a, "agreement.borrower_signed", f"borrower:{borrower_id}", {
        "code_id": row.id, "consent": True, "document_sha256": a.document_sha256, "terms_sha256": a.terms_sha256},
           before={"status": "sent_for_signature"})
    return SignOutcome(True)


def record_oral_agreement(session: Session, *, agreement_id: int, officer: str, call_recording_ref: str,
                          now: datetime | None = None) -> Agreement:
    """An oral agreement (credit cards): the borrower agreed on a recorded call; the reference is kept."""
    a = get_agreement(session, agreement_id)
    if a.signing_method != "oral":
        raise Conflict("this agreement is signed by the borrower in the portal", field="signing_method",
                       rule="agreement.not_oral")
    expect_status(a, "draft")
    ref = (call_recording_ref or "").strip()
    if not ref or len(ref) > 200:
        raise InvalidInput("an oral agreement needs the call recording's reference (1-200 characters)",
                           field="call_recording_ref", rule="agreement.recording_required")
    a.status, a.call_recording_ref, a.borrower_signed_at = "borrower_signed", ref, now or utcnow()
    session.flush()
    record_event(session, a, "agreement.oral_recorded", officer, {"call_recording_ref": ref,
                                                            "document_sha256": a.document_sha256},
           before={"status": "draft"})
    return a
