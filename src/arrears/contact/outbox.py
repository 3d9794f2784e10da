"""Queueing a message: the use case that decides to notify calls ``queue_message`` in its own transaction, so
the message exists exactly when the decision is committed; only the worker sends it.

The dedupe key names the decision (e.g. ``overdue:loan:42:2026-03-05``): queueing the same key again returns
the message already queued, a different message under the same key is a 409. The key is also the channel's
idempotency key, so it must not contain personal data (it is checked to be a plain token).

A borrower's freezes (do-not-contact, an open complaint, collection stopped: ``arrears.cases.flags``) refuse a new
message at queue time with a 409 naming the rule, unless the freeze allows the template's purpose; the worker
checks again before sending.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.flags import borrower_flags, frozen_rule
from arrears.compliance.model import ContactAttempt, ContactHistory
from arrears.compliance.policy import packaged_profiles
from arrears.contact.tables import CHANNELS, OutboxMessage
from arrears.contact.templates import TemplateCatalog, catalog
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.service import savepoint
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/+-]{0,119}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9]{6,15}$")
SUBJECT_TYPE = "outbox_message"


def _recipient(borrower: Borrower, channel: str, given: str | None, cipher: PersonalDataCipher) -> str | None:
    """The address to send to: the one given, else the borrower's own; checked for the channel.
    Errors never repeat the address."""
    if channel == "app":
        if given is not None:
            raise InvalidInput("an in-app message goes to the borrower's inbox; give no recipient",
                               field="recipient", rule="recipient.not_applicable")
        return None
    if given is None:
        if channel == "letter":
            given = None if borrower.address_enc is None else \
                f"{cipher.decrypt(borrower.name_enc)}\n{cipher.decrypt(borrower.address_enc)}"
        else:
            blob = borrower.email_enc if channel == "email" else borrower.phone_enc
            given = None if blob is None else cipher.decrypt(blob)
    if not given or not given.strip():
        raise InvalidInput(f"the borrower has no {'postal address' if channel == 'letter' else channel} on file",
                           field="recipient", rule="recipient.missing")
    given = given.strip()
    if channel == "email" and not EMAIL.match(given):
        raise InvalidInput("not a valid e-mail address", field="recipient", rule="recipient.format")
    if channel == "sms":
        given = given.replace(" ", "").replace("-", "")
        if not PHONE.match(given):
            raise InvalidInput("not a valid mobile number", field="recipient", rule="recipient.format")
    return given


def _digest(cipher: PersonalDataCipher, **fields: object) -> str:
    """A keyed digest of what makes the message: the same key must mean the same message."""
    return cipher.digest(json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str))


def queue_message(session: Session, *, cipher: PersonalDataCipher, borrower_id: int, channel: str, template: str,
                  variables: Mapping[str, object], dedupe_key: str, language: str | None = None,
                  loan_id: int | None = None, case_id: int | None = None, recipient: str | None = None,
                  profile: str = "cn-bank", not_before: datetime | None = None, expires_at: datetime | None = None,
                  actor: str = "system", now: datetime | None = None,
                  templates: TemplateCatalog | None = None) -> OutboxMessage:
    """Renders ``template`` for ``channel`` in the borrower's language (or ``language``), checks it against the
    compliance content rules and adds it to the outbox with an audit event, in the caller's transaction.

    ``profile`` names the compliance profile whose quiet hours the worker keeps for collection templates;
    ``not_before`` delays the first attempt (e.g. the guard's ``next_allowed_at``); ``expires_at`` stops
    attempts after it (one-time codes). Returns the message (the existing one for a repeated key)."""
    at = now or utcnow()
    if not isinstance(dedupe_key, str) or not KEY.match(dedupe_key):
        raise InvalidInput("must be 1-120 characters of letters, digits and : . _ / + - (no personal data)",
                           field="dedupe_key", rule="outbox.dedupe_key_format")
    if channel not in CHANNELS:
        raise InvalidInput(f"unknown channel {channel!r}; use one of {list(CHANNELS)}", field="channel",
                           rule="outbox.channel")
    if profile not in packaged_profiles():
        raise InvalidInput(f"unknown compliance profile {profile!r}", field="profile", rule="outbox.profile")
    for name, value in (("now", at), ("not_before", not_before), ("expires_at", expires_at)):
        if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
            raise InvalidInput("must be a timezone-aware datetime", field=name)
    if expires_at is not None and expires_at <= at:
        raise InvalidInput("is already past", field="expires_at", rule="outbox.expired")
    borrower = session.get(Borrower, borrower_id)
    if borrower is None:
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id")
    if loan_id is not None:
        loan = session.get(Loan, loan_id)
        if loan is None or loan.borrower_id != borrower.id:
            raise InvalidInput(f"loan {loan_id} is not a loan of borrower {borrower_id}", field="loan_id",
                               rule="outbox.loan_of_borrower")
    book = templates or catalog()
    rendered = book.render(template, language=language or borrower.language, channel=channel,
                           variables=dict(variables))
    address = _recipient(borrower, channel, recipient, cipher)
    digest = _digest(cipher, borrower=borrower.id, loan=loan_id, case=case_id, channel=channel, template=template,
                     language=rendered.language, variables=dict(variables), recipient=address)

    existing = _by_key(session, dedupe_key)
    if existing is not None:
        return _same(existing, digest)
    rule = frozen_rule(borrower_flags(session, borrower.id), rendered.spec.purpose, packaged_profiles()[profile])
    if rule is not None:
        reason = packaged_profiles()[profile].rules[rule].reason_en
        raise Conflict(f"not queued: {reason}", field="borrower_id", rule=rule)
    message = OutboxMessage(
        borrower_id=borrower.id, loan_id=loan_id, case_id=case_id, channel=channel, template=template,
        language=rendered.language, purpose=str(rendered.spec.purpose),
        recipient_enc=None if address is None else cipher.encrypt(address),
        subject_enc=cipher.encrypt(rendered.subject), body_enc=cipher.encrypt(rendered.body),
        borrower_tz=borrower.timezone, quiet_profile=profile if rendered.spec.quiet_hours else None,
        status="pending", attempts=0, next_attempt_at=max(at, not_before) if not_before else at,
        expires_at=expires_at, dedupe_key=dedupe_key, request_digest=digest, created_at=at)
    try:
        with savepoint(session):
            session.add(message)
            session.flush()
    except IntegrityError:  # queued concurrently under the same key
        existing = _by_key(session, dedupe_key)
        if existing is None:
            raise
        return _same(existing, digest)
    append_event(session, actor=actor, action="outbox.queued", subject_type=SUBJECT_TYPE, subject_id=message.id,
                 borrower_id=borrower.id, occurred_at=at,
                 after={"channel": channel, "template": template, "language": rendered.language,
                        "dedupe_key": dedupe_key, "loan_id": loan_id, "case_id": case_id,
                        "next_attempt_at": message.next_attempt_at.isoformat()})
    return message


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))


def _same(existing: OutboxMessage, digest: str) -> OutboxMessage:
    if existing.request_digest != digest:
        raise Conflict("a different message was already queued under this dedupe key", field="dedupe_key",
                       rule="outbox.dedupe_key_reused")
    return existing


def sent_history(session: Session, borrower_id: int) -> ContactHistory:
    """The borrower's delivered messages as contact attempts (outcome ``sent``) for the compliance guard."""
    rows = session.execute(
        select(OutboxMessage.loan_id, OutboxMessage.channel, OutboxMessage.sent_at)
        .where(OutboxMessage.borrower_id == borrower_id, OutboxMessage.status == "sent",
               OutboxMessage.loan_id.is_not(None))
        .order_by(OutboxMessage.sent_at)).all()
    return tuple(ContactAttempt(borrower_id=borrower_id, loan_id=loan, method=channel, party="debtor",
                                outcome="sent", at=at) for loan, channel, at in rows)
