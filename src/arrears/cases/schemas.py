"""What the case API answers: a case, its plan and its timeline (every audit event of the case, the contact
log, promises and visits, in time order). Notes and visit reports are shown only to those who work cases or
may see personal data; the borrower block is masked as the loan API masks it."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.auth.model import Permission, Principal
from arrears.cases.tables import Case, ContactLog, FieldVisit, PromiseToPay
from arrears.loans.schemas import BorrowerOut, borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher


class CaseOut(BaseModel):
    id: int
    loan_id: int
    loan_no: str
    borrower_id: int
    stage: str
    status: str
    close_reason: str | None
    opened_on: date
    closed_on: date | None
    owner_user_id: int | None
    team: str | None
    next_action: str
    next_action_due: date | None
    version: int


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int


class Plan(BaseModel):
    next_action: str
    next_action_due: date | None
    open_promise: dict | None
    next_visit: dict | None


class CaseDetail(CaseOut):
    borrower: BorrowerOut
    plan: Plan
    timeline: list[dict[str, Any]]


def case_out(case: Case, loan_no: str) -> CaseOut:
    return CaseOut(id=case.id, loan_id=case.loan_id, loan_no=loan_no, borrower_id=case.borrower_id,
                   stage=case.stage, status=case.status, close_reason=case.close_reason, opened_on=case.opened_on,
                   closed_on=case.closed_on, owner_user_id=case.owner_user_id, team=case.team,
                   next_action=case.next_action, next_action_due=case.next_action_due, version=case.version)


def _promise(p: PromiseToPay) -> dict:
    return {"promise_id": p.id, "amount_fen": p.amount_fen, "promised_on": p.promised_on, "due_on": p.due_on,
            "status": p.status, "resolved_on": p.resolved_on, "paid_fen": p.paid_fen}


def case_detail(session: Session, case: Case, principal: Principal, cipher: PersonalDataCipher) -> CaseDetail:
    loan, borrower = session.get(Loan, case.loan_id), session.get(Borrower, case.borrower_id)
    assert loan is not None and borrower is not None
    notes = principal.can(Permission.cases_work) or principal.sees_pii_of(case.borrower_id)
    timeline: list[dict[str, Any]] = []
    for e in session.scalars(select(Event).where(Event.subject_type == "case", Event.subject_id == str(case.id))
                             .order_by(Event.seq)):
        timeline.append({"at": e.occurred_at, "kind": "event", "action": e.action, "actor": e.actor,
                         "after": e.after, "reason": e.reason, "seq": e.seq})
    for c in session.scalars(select(ContactLog).where(ContactLog.case_id == case.id)):
        timeline.append({"at": c.at, "kind": "contact", "contact_id": c.id, "method": c.method, "party": c.party,
                         "purpose": c.purpose, "allowed": c.allowed, "refused_rule": c.refused_rule,
                         "outcome": c.outcome, "recording_ref": c.recording_ref,
                         "note": (cipher.decrypt(c.note_enc) if c.note_enc else None) if notes else None})
    promises = session.scalars(select(PromiseToPay).where(PromiseToPay.case_id == case.id)).all()
    timeline += [{"at": p.created_at, "kind": "promise", **_promise(p)} for p in promises]
    visits = session.scalars(select(FieldVisit).where(FieldVisit.case_id == case.id)).all()
    for v in visits:
        timeline.append({"at": v.planned_at, "kind": "visit", "visit_id": v.id, "status": v.status,
                         "address_type": v.address_type, "outcome": v.outcome, "evidence": v.evidence or [],
                         "committee_involved": v.committee_involved, "committee_name": v.committee_name,
                         "report": (cipher.decrypt(v.report_enc) if v.report_enc else None) if notes else None,
                         "version": v.version})
    timeline.sort(key=lambda item: (item["at"], item["kind"]))
    open_promise = next((_promise(p) for p in promises if p.status == "open"), None)
    upcoming = sorted((v for v in visits if v.status == "scheduled"), key=lambda v: v.planned_at)
    next_visit = {"visit_id": upcoming[0].id, "planned_at": upcoming[0].planned_at} if upcoming else None
    base = case_out(case, loan.loan_no).model_dump()
    return CaseDetail(**base, borrower=borrower_out(borrower, cipher, unmasked=principal.sees_pii_of(borrower.id)),
                      plan=Plan(next_action=case.next_action, next_action_due=case.next_action_due,
                                open_promise=open_promise, next_visit=next_visit),
                      timeline=timeline)
