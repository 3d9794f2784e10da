"""Hardship applications: filed by the borrower (own loans only) or by staff on their behalf, with
evidence files; staff verify or reject them. The financial statement is stored encrypted; audit events
name what changed, never the figures."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.service import append_event
from arrears.auth.model import Principal
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.files.store import FileStore
from arrears.loans.tables import Loan
from arrears.negotiation.affordability import Assessment, Statement, assess, validate_statement
from arrears.negotiation.config import policy
from arrears.negotiation.tables import HARDSHIP_KINDS, HardshipApplication, HardshipEvidence
from arrears.privacy import PersonalDataCipher

SUBJECT = "hardship_application"
CONSENT_VERSION = "2026-1"


def visible_loan(session: Session, principal: Principal, loan_id: int) -> Loan:
    """The loan if this principal may see it; otherwise 404, as if it did not exist."""
    loan = session.get(Loan, loan_id)
    if loan is None or not principal.may_see(loan.borrower_id):
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    return loan


def get_application(session: Session, principal: Principal, application_id: int) -> HardshipApplication:
    app = session.get(HardshipApplication, application_id)
    if app is None or not principal.may_see(app.borrower_id):
        raise NotFound(f"no hardship application {application_id}", field="application_id",
                       rule="hardship.exists")
    return app


def file_application(session: Session, cipher: PersonalDataCipher, principal: Principal, *, loan_id: int,
                     statement: Statement, hardship_kind: str, hardship_since: date, description: str,
                     consent: bool, today: date) -> HardshipApplication:
    loan = visible_loan(session, principal, loan_id)
    if consent is not True:
        raise InvalidInput("the borrower's consent to process this information is required", field="consent",
                           rule="hardship.consent_required")
    if hardship_kind not in HARDSHIP_KINDS:
        raise InvalidInput(f"hardship kind must be one of {', '.join(HARDSHIP_KINDS)}", field="hardship_kind",
                           rule="hardship.kind")
    if hardship_since > today:
        raise InvalidInput("the hardship cannot start in the future", field="hardship_since",
                           rule="hardship.since_not_future")
    validate_statement(statement)
    body = {**asdict(statement), "description": description}
    app = HardshipApplication(
        loan_id=loan.id, borrower_id=loan.borrower_id, status="submitted", hardship_kind=hardship_kind,
        hardship_since=hardship_since, dependants=statement.dependants, region_code=statement.region_code,
        statement_enc=cipher.encrypt(json.dumps(body, ensure_ascii=False)), consent_at=utcnow(),
        consent_version=CONSENT_VERSION, filed_by=principal.actor, filed_by_borrower=principal.self_scoped)
    session.add(app)
    session.flush()
    append_event(session, actor=principal.actor, action="hardship.filed", subject_type=SUBJECT, subject_id=app.id,
                 borrower_id=app.borrower_id, after={"loan_id": loan.id, "kind": hardship_kind, "status": "submitted",
                                                     "by_borrower": principal.self_scoped,
                                                     "consent_version": CONSENT_VERSION})
    return app


def statement_of(app: HardshipApplication, cipher: PersonalDataCipher) -> tuple[Statement, str]:
    body = json.loads(cipher.decrypt(app.statement_enc))
    description = body.pop("description", "")
    return Statement(**body), description


def add_evidence(session: Session, store: FileStore, cipher: PersonalDataCipher, principal: Principal, *,
                 application_id: int, data: bytes, filename: str) -> HardshipEvidence:
    app = get_application(session, principal, application_id)
    if app.status != "submitted":
        raise Conflict("evidence can only be added while the application is submitted", field="status",
                       rule="hardship.not_submitted")
    cfg = policy().evidence
    count = len(session.scalars(select(HardshipEvidence.id).where(
        HardshipEvidence.application_id == app.id)).all())
    if count >= cfg.max_files:
        raise InvalidInput(f"at most {cfg.max_files} evidence files per application", field="file",
                           rule="hardship.max_files")
    stored = store.put(data, allowed=cfg.types, max_bytes=cfg.max_bytes)
    existing = session.scalar(select(HardshipEvidence).where(HardshipEvidence.application_id == app.id,
                                                             HardshipEvidence.sha256 == stored.sha256))
    if existing is not None:
        return existing  # the same content again: nothing new to keep
    ev = HardshipEvidence(application_id=app.id, borrower_id=app.borrower_id, sha256=stored.sha256,
                          media_type=stored.media_type, size_bytes=stored.size,
                          name_enc=cipher.encrypt(filename[:200]), uploaded_by=principal.actor)
    session.add(ev)
    session.flush()
    append_event(session, actor=principal.actor, action="hardship.evidence_added", subject_type=SUBJECT,
                 subject_id=app.id, borrower_id=app.borrower_id,
                 after={"sha256": stored.sha256, "media_type": stored.media_type, "size": stored.size})
    return ev


def review_application(session: Session, cipher: PersonalDataCipher, principal: Principal, *, application_id: int,
                       decision: str, note: str, version: int, now: datetime | None = None) -> HardshipApplication:
    app = get_application(session, principal, application_id)
    if decision not in ("verified", "rejected"):
        raise InvalidInput("decision must be verified or rejected", field="decision", rule="hardship.decision")
    if app.version != version:
        raise Conflict(f"the application changed (version {app.version}, not {version}); reload it",
                       field="version", rule="stale_version")
    if app.status != "submitted":
        raise Conflict(f"the application is already {app.status}", field="status", rule="hardship.not_submitted")
    if app.filed_by == principal.actor:
        raise Conflict("whoever filed an application cannot verify it", field="reviewer", rule="hardship.maker_checker")
    before = {"status": app.status, "version": app.version}
    app.status, app.reviewed_by, app.reviewed_at = decision, principal.actor, now or utcnow()
    app.review_note_enc = cipher.encrypt(note) if note else None
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("someone else reviewed the application at the same time; reload it", field="version",
                       rule="stale_version") from None
    append_event(session, actor=principal.actor, action=f"hardship.{decision}", subject_type=SUBJECT,
                 subject_id=app.id, borrower_id=app.borrower_id, before=before,
                 after={"status": decision, "version": app.version})
    return app


def latest_assessment(session: Session, cipher: PersonalDataCipher, loan_id: int,
                      application_id: int | None = None) -> tuple[HardshipApplication | None, Assessment | None]:
    """The assessment of the given application, else of the loan's latest one not rejected."""
    stmt = select(HardshipApplication).where(HardshipApplication.loan_id == loan_id)
    if application_id is not None:
        stmt = stmt.where(HardshipApplication.id == application_id)
    else:
        stmt = stmt.where(HardshipApplication.status != "rejected")
    app = session.scalars(stmt.order_by(HardshipApplication.id.desc()).limit(1)).first()
    if app is None:
        if application_id is not None:
            raise NotFound(f"no hardship application {application_id} for loan {loan_id}",
                           field="application_id", rule="hardship.exists")
        return None, None
    return app, assess(statement_of(app, cipher)[0])
