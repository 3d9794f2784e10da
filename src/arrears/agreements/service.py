"""Agreement use cases: prepare (create), send for signature, sign (borrower, or oral with a recording),
countersign (executes), terminate. Each takes the caller's session, never commits, and appends an
``agreement`` event; the terms' and document's SHA-256 are in the chain from the first event on."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrears.agreements import documents, render, terms
from arrears.agreements.execution import execute
from arrears.agreements.policy import policy
from arrears.agreements.tables import LIVE, Agreement, SigningCode
from arrears.audit.service import append_event
from arrears.contact.outbox import queue_message
from arrears.contact.templates import catalog as template_catalog
from arrears.db.base import utcnow
from arrears.errors import Conflict, Forbidden, InvalidInput, NotFound
from arrears.ledger.service import savepoint
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation.plan import Plan
from arrears.privacy import PersonalDataCipher, mask_id_number, mask_phone

SUBJECT = "agreement"


def _event(session: Session, a: Agreement, action: str, actor: str, after: dict, before: dict | None = None,
           reason: str = "") -> None:
    append_event(session, actor=actor, action=action, subject_type=SUBJECT, subject_id=a.id,
                 borrower_id=a.borrower_id, before=before, after={"status": a.status, **after}, reason=reason)


def get_agreement(session: Session, agreement_id: int) -> Agreement:
    a = session.get(Agreement, agreement_id)
    if a is None:
        raise NotFound(f"no agreement {agreement_id}", field="agreement_id", rule="agreement.exists")
    return a


def _expect(a: Agreement, *statuses: str) -> None:
    if a.status not in statuses:
        raise Conflict(f"agreement {a.id} is {a.status}; this needs {' or '.join(statuses)}", field="status",
                       rule="agreement.status")


def create_agreement(session: Session, *, plan: Plan, loan_id: int, prepared_by: str, cipher: PersonalDataCipher,
                     language: str | None = None, signing_method: str = "portal") -> Agreement:
    """A draft agreement for an agreed plan: terms stored as canonical JSON, the PDF rendered and stored by
    its SHA-256, both digests in the first event of the agreement's chain."""
    try:
        plan.check()
    except ValueError as exc:
        raise InvalidInput(str(exc), field="plan", rule="plan.restates_debt") from None
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    if plan.loan_id != loan_id:
        raise InvalidInput(f"the plan is for loan {plan.loan_id}, not {loan_id}", field="plan.loan_id",
                           rule="agreement.plan_loan")
    if loan.status != "active":
        raise Conflict(f"loan {loan.loan_no} is {loan.status}", field="loan_id", rule="loan.active")
    if not plan.schedule:
        raise InvalidInput("the plan has no instalments", field="plan.schedule", rule="agreement.schedule")
    pol = policy()
    rule = pol.product(loan.product_code)
    if signing_method not in ("portal", "oral"):
        raise InvalidInput("must be portal or oral", field="signing_method", rule="agreement.signing_method")
    if signing_method == "oral" and not rule.oral_allowed:
        raise InvalidInput(f"{loan.product_code} agreements must be signed in writing", field="signing_method",
                           rule="agreement.oral_not_allowed")
    earlier = session.scalar(select(func.count()).select_from(Agreement).where(
        Agreement.loan_id == loan_id, Agreement.executed_on.is_not(None))) or 0
    if earlier >= pol.renegotiation.max_agreements_per_loan:
        raise Conflict(f"loan {loan.loan_no} already had {earlier} agreements (limit "
                       f"{pol.renegotiation.max_agreements_per_loan}); escalate instead", field="loan_id",
                       rule="agreement.renegotiation_limit")
    if session.scalar(select(Agreement.id).where(Agreement.loan_id == loan_id, Agreement.status.in_(LIVE))):
        raise Conflict(f"loan {loan.loan_no} already has an agreement in progress", field="loan_id",
                       rule="agreement.one_live")
    borrower = session.get(Borrower, loan.borrower_id)
    terms_json = terms.canonical(plan)
    a = Agreement(loan_id=loan_id, borrower_id=loan.borrower_id, product_code=loan.product_code, status="draft",
                  language=language or borrower.language, plan_kind=plan.kind, as_of=plan.as_of,
                  terms_json=terms_json, terms_sha256=terms.digest(terms_json), document_sha256="",
                  prepared_by=prepared_by, signing_method=signing_method,
                  waiver_conditional=plan.waiver_conditional, renegotiation_no=earlier)
    try:  # two officers preparing at once: one wins on the partial unique index
        with savepoint(session):
            session.add(a)
            session.flush()
    except IntegrityError:
        raise Conflict(f"loan {loan.loan_no} already has an agreement in progress", field="loan_id",
                       rule="agreement.one_live") from None
    a.document_sha256 = documents.put(session, agreement_pdf(a, plan, loan, borrower, cipher))
    session.flush()
    _event(session, a, "agreement.created", prepared_by, {
        "loan_id": loan_id, "plan_kind": plan.kind, "terms_sha256": a.terms_sha256,
        "document_sha256": a.document_sha256, "signing_method": signing_method, "prepared_by": prepared_by})
    return a


def number(a: Agreement) -> str:
    return f"HK-{a.as_of:%Y%m%d}-{a.id:06d}"


def agreement_pdf(a: Agreement, plan: Plan, loan: Loan, borrower: Borrower, cipher: PersonalDataCipher) -> bytes:
    pol, lang = policy(), "zh" if a.language.startswith("zh") else "en"
    clause = pol.default_clause
    data = render.agreement_data(
        plan=plan, number=number(a), language=a.language,
        institution=template_catalog().institution.name.get(lang),
        borrower_name=cipher.decrypt(borrower.name_enc),
        id_masked=mask_id_number(cipher.decrypt(borrower.id_number_enc)),
        phone_masked=mask_phone(cipher.decrypt(borrower.phone_enc)), loan_no=loan.loan_no,
        dispute=getattr(pol.dispute, lang), grace_days=clause.grace_days,
        missed_instalments=clause.missed_instalments, days_late=clause.days_late)
    return render.render_pdf(render.AGREEMENT, data, a.language)


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
    _expect(a, "draft", "sent_for_signature")
    at, cfg = now or utcnow(), policy().signing
    for old in session.scalars(select(SigningCode).where(SigningCode.agreement_id == a.id,
                                                         SigningCode.used_at.is_(None))):
        old.used_at = at  # superseded
    code = "".join(secrets.choice("0123456789") for _ in range(cfg.code_digits))
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
    _event(session, a, "agreement.sent_for_signature", actor, {"code_id": row.id, "message_id": msg.id,
                                                               "expires_at": expires.isoformat()},
           before={"status": before})
    return CodeSent(a, msg.id, expires)


def _code_digest(cipher: PersonalDataCipher, agreement_id: int, code: str) -> str:
    return cipher.digest(f"agreement-code:{agreement_id}:{code}")


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
    _expect(a, "sent_for_signature")
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
    if not secrets.compare_digest(row.code_digest, _code_digest(cipher, a.id, str(code).strip())):
        left = row.max_attempts - row.attempts
        _event(session, a, "agreement.sign_failed", f"borrower:{borrower_id}", {"code_id": row.id,
                                                                               "attempts_left": left})
        return SignOutcome(False, "signing.code_wrong", "the code is not right", left)
    row.used_at = at
    a.status, a.borrower_signed_at = "borrower_signed", at
    session.flush()
    _event(session, a, "agreement.borrower_signed", f"borrower:{borrower_id}", {
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
    _expect(a, "draft")
    ref = (call_recording_ref or "").strip()
    if not ref or len(ref) > 200:
        raise InvalidInput("an oral agreement needs the call recording's reference (1-200 characters)",
                           field="call_recording_ref", rule="agreement.recording_required")
    a.status, a.call_recording_ref, a.borrower_signed_at = "borrower_signed", ref, now or utcnow()
    session.flush()
    _event(session, a, "agreement.oral_recorded", officer, {"call_recording_ref": ref,
                                                            "document_sha256": a.document_sha256},
           before={"status": "draft"})
    return a


def countersign(session: Session, *, agreement_id: int, officer: str, business_date: date,
                expected_version: int | None = None) -> Agreement:
    """An authorised officer other than the preparer countersigns; the agreement comes into force and is
    executed in the same transaction (ledger, schedule, restructured flag, collection stop)."""
    a = get_agreement(session, agreement_id)
    if expected_version is not None and a.version != expected_version:
        raise Conflict(f"agreement {a.id} changed (version {a.version})", field="version", rule="version.stale")
    _expect(a, "borrower_signed")
    if officer == a.prepared_by:
        raise Forbidden("the officer who prepared the agreement cannot countersign it (maker-checker)",
                        field="officer", rule="agreement.maker_checker")
    loan = session.get(Loan, a.loan_id)
    plan = terms.plan_from_json(a.terms_json)
    if terms.digest(a.terms_json) != a.terms_sha256:
        raise Conflict("the stored terms do not match their digest; run `arrears audit verify`",
                       field="terms", rule="agreement.terms_altered")
    done = execute(session, loan=loan, plan=plan, business_date=business_date, actor=officer, agreement_id=a.id)
    a.status, a.countersigned_by, a.countersigned_at = "countersigned", officer, utcnow()
    a.executed_on, a.seq_from, a.seq_to = business_date, done["seq_from"], done["seq_to"]
    a.waiver_entry_id = done["waiver_entry_id"]
    a.stops_collection = policy().product(a.product_code).stops_collection
    session.flush()
    _event(session, a, "agreement.countersigned", officer, {**done, "stops_collection": a.stops_collection},
           before={"status": "borrower_signed"})
    return a


def terminate(session: Session, *, agreement_id: int, actor: str, reason: str, business_date: date,
              renegotiated: bool = False) -> Agreement:
    """Ends an agreement not yet in force (withdrawn: ``terminated``) or ends one in force because the parties
    agreed a new plan (``renegotiated``; the new agreement is prepared next)."""
    a = get_agreement(session, agreement_id)
    if not reason.strip():
        raise InvalidInput("give the reason", field="reason", rule="agreement.reason_required")
    if renegotiated:
        _expect(a, "countersigned")
    else:
        _expect(a, "draft", "sent_for_signature", "borrower_signed")
    before = a.status
    a.status = "renegotiated" if renegotiated else "terminated"
    a.ended_on, a.end_reason, a.stops_collection = business_date, reason.strip()[:200], False
    session.flush()
    _event(session, a, f"agreement.{a.status}", actor, {"ended_on": business_date.isoformat()},
           before={"status": before}, reason=reason.strip()[:300])
    return a


def collection_stopped_borrowers(session: Session) -> set[int]:
    """Borrowers with an agreement in force whose product stops collection contact (e.g. a credit-card
    personalised instalment). The compliance guard's ``collection_stopped`` reads this (or the SQL below)."""
    return set(session.scalars(select(Agreement.borrower_id).where(COLLECTION_STOPPED)))


COLLECTION_STOPPED = (Agreement.status == "countersigned") & Agreement.stops_collection.is_(True)
