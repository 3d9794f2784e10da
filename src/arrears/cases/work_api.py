"""Working a case: contacts (through the compliance guard), outcomes, promises to pay, field visits and their
evidence, third parties, do-not-contact, and letters or notices sent by hand (previewed, then guarded and queued). A contact the guard refuses is committed to the contact log and
answered 409 problem+json naming the rule, with ``next_allowed_at`` when time alone lifts it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.cases import contacts, flags, letters, promises, third_parties, visits
from arrears.cases.api import scope, visible_case
from arrears.cases.contacts import ContactResult
from arrears.cases.evidence import EvidenceStore
from arrears.cases.tables import Case, ContactLog, FieldVisit
from arrears.db.base import utcnow
from arrears.errors import NotFound
from arrears.web.deps import CipherDep, SessionDep, Today, require
from arrears.web.errors import PROBLEM_JSON

router = APIRouter(prefix="/api/v1", tags=["cases"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_In):
    method: str
    party: str = "debtor"
    purpose: str = "collect"
    to: str | None = None  # the number or address dialled/visited; checked against the case's borrower
    third_party_id: int | None = None
    at: datetime | None = None  # default: now
    outcome: str | None = None
    note: str | None = Field(default=None, max_length=4000)
    recording_ref: str | None = None
    discloses_debt: bool = False


class OutcomeIn(_In):
    outcome: str
    note: str | None = Field(default=None, max_length=4000)
    recording_ref: str | None = None


class PromiseIn(_In):
    contact_id: int
    amount_fen: int
    due_on: date


class VisitIn(_In):
    planned_at: datetime
    address_type: str
    collector_user_id: int | None = None  # default: the caller
    second_collector_user_id: int | None = None
    address: str | None = None


class ReportIn(_In):
    outcome: str
    report: str = Field(max_length=8000)
    recording_ref: str
    evidence: list[str] = []
    committee_involved: bool = False
    committee_name: str | None = None
    expected_version: int


class ThirdPartyIn(_In):
    relation: str
    name: str
    phone: str | None = None
    address: str | None = None


class FlagIn(_In):
    on: bool
    reason: str


class LetterIn(_In):
    template: str
    channel: str
    language: str | None = None  # default: the borrower's


def _contact_json(result: ContactResult) -> dict:
    c, d = result.contact, result.decision
    return {"contact_id": c.id, "allowed": d.allowed, "rule": d.rule, "broken": list(d.broken),
            "next_allowed_at": d.next_allowed_at, "outcome": c.outcome}


def _refused(request: Request, result: ContactResult) -> JSONResponse:
    d = result.decision
    body = {"type": "urn:arrears:problem:contact-refused", "title": "Contact refused", "status": 409,
            "detail": f"{d.reason_zh} / {d.reason_en}", "instance": request.url.path, "field": None,
            "rule": d.rule, "errors": [], **_contact_json(result)}
    return JSONResponse(jsonable_encoder(body), status_code=409, media_type=PROBLEM_JSON)


@router.post("/cases/{case_id}/contacts", status_code=201)
def log_contact(case_id: int, body: ContactIn, request: Request, session: SessionDep, cipher: CipherDep,
                principal: Annotated[Principal, Depends(require(P.cases_work))]):  # noqa: ANN201
    visible_case(session, principal, case_id)
    result = contacts.request_contact(
        session, cipher=cipher, case_id=case_id, method=body.method, party=body.party, purpose=body.purpose,
        at=body.at or utcnow(), actor=principal.actor, agent_user_id=principal.user_id, to=body.to,
        third_party_id=body.third_party_id, outcome=body.outcome, note=body.note, recording_ref=body.recording_ref,
        discloses_debt=body.discloses_debt)
    if not result.decision.allowed:
        return _refused(request, result)
    return JSONResponse(jsonable_encoder(_contact_json(result)), status_code=201)


@router.post("/contacts/{contact_id}/outcome")
def contact_outcome(contact_id: int, body: OutcomeIn, session: SessionDep, cipher: CipherDep,
                    principal: Annotated[Principal, Depends(require(P.cases_work))]) -> dict:
    row = session.get(ContactLog, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", field="contact_id", rule="contact.exists")
    visible_case(session, principal, row.case_id)
    row = contacts.record_outcome(session, cipher=cipher, contact_id=contact_id, outcome=body.outcome,
                                  note=body.note, recording_ref=body.recording_ref, actor=principal.actor)
    return {"contact_id": row.id, "outcome": row.outcome}


@router.post("/cases/{case_id}/promises", status_code=201)
def make_promise(case_id: int, body: PromiseIn, session: SessionDep, today: Today,
                 principal: Annotated[Principal, Depends(require(P.cases_work))]) -> dict:
    visible_case(session, principal, case_id)
    row = session.get(ContactLog, body.contact_id)
    if row is None or row.case_id != case_id:
        raise NotFound(f"no contact {body.contact_id} on case {case_id}", field="contact_id", rule="contact.exists")
    p = promises.create_promise(session, contact_id=body.contact_id, amount_fen=body.amount_fen, due_on=body.due_on,
                                promised_on=today, actor=principal.actor)
    return {"promise_id": p.id, "status": p.status, "due_on": p.due_on, "amount_fen": p.amount_fen}


@router.get("/reports/promises")
def promise_report(session: SessionDep, start: date, end: date,
                   principal: Annotated[Principal, Depends(require(P.reports_read))]) -> dict:
    stats = promises.promise_stats(session, start, end)
    return {**stats, "kept_rate": None if stats["kept_rate"] is None else str(stats["kept_rate"])}


def _store(request: Request) -> EvidenceStore:
    return EvidenceStore(request.app.state.settings.data_dir / "files")


@router.post("/cases/{case_id}/visits", status_code=201)
def schedule_visit(case_id: int, body: VisitIn, request: Request, session: SessionDep, cipher: CipherDep,
                   principal: Annotated[Principal, Depends(require(P.cases_work))]):  # noqa: ANN201
    visible_case(session, principal, case_id)
    result = visits.schedule_visit(session, cipher=cipher, case_id=case_id, planned_at=body.planned_at,
                                   address_type=body.address_type, actor=principal.actor,
                                   collector_user_id=body.collector_user_id or principal.user_id,
                                   second_collector_user_id=body.second_collector_user_id, address=body.address)
    if result.visit is None:
        return _refused(request, result.contact)
    return JSONResponse(jsonable_encoder({"visit_id": result.visit.id, "status": result.visit.status,
                                          "version": result.visit.version, **_contact_json(result.contact)}),
                        status_code=201)


@router.post("/visits/{visit_id}/report")
def report_visit(visit_id: int, body: ReportIn, request: Request, session: SessionDep, cipher: CipherDep,
                 principal: Annotated[Principal, Depends(require(P.cases_work))]) -> dict:
    visit = session.get(FieldVisit, visit_id)
    if visit is None:
        raise NotFound(f"no visit {visit_id}", field="visit_id", rule="visit.exists")
    visible_case(session, principal, visit.case_id)
    v = visits.report_visit(session, cipher=cipher, store=_store(request), visit_id=visit_id, outcome=body.outcome,
                            report=body.report, recording_ref=body.recording_ref, actor=principal.actor,
                            expected_version=body.expected_version, at=utcnow(), evidence=body.evidence,
                            committee_involved=body.committee_involved, committee_name=body.committee_name)
    return {"visit_id": v.id, "status": v.status, "outcome": v.outcome, "evidence": v.evidence, "version": v.version}


@router.post("/evidence", status_code=201)
async def upload_evidence(request: Request,
                          principal: Annotated[Principal, Depends(require(P.cases_work))]) -> dict:
    """The raw file as the body; its type is read from its bytes and must match Content-Type if one is sent."""
    data = await request.body()
    declared = request.headers.get("content-type")
    declared = None if declared in (None, "application/octet-stream") else declared
    return _store(request).put(data, declared).ref()


@router.post("/borrowers/{borrower_id}/third-parties", status_code=201)
def add_third_party(borrower_id: int, body: ThirdPartyIn, session: SessionDep, cipher: CipherDep,
                    principal: Annotated[Principal, Depends(require(P.cases_work))]) -> dict:
    if session.scalar(scope(select(Case.id).where(Case.borrower_id == borrower_id), principal).limit(1)) is None:
        raise NotFound(f"no case of borrower {borrower_id} you work on", field="borrower_id", rule="case.exists")
    tp = third_parties.register_third_party(session, cipher=cipher, borrower_id=borrower_id, relation=body.relation,
                                            name=body.name, phone=body.phone, address=body.address,
                                            actor=principal.actor)
    return {"third_party_id": tp.id, "relation": tp.relation}


@router.post("/borrowers/{borrower_id}/do-not-contact")
def do_not_contact(borrower_id: int, body: FlagIn, session: SessionDep,
                   principal: Annotated[Principal, Depends(require(P.cases_manage))]) -> dict:
    flags.set_do_not_contact(session, borrower_id=borrower_id, on=body.on, reason=body.reason, actor=principal.actor)
    return {"borrower_id": borrower_id, "do_not_contact": body.on}


@router.get("/cases/{case_id}/letters/preview")
def preview_letter(case_id: int, template: str, channel: str, session: SessionDep, cipher: CipherDep,
                   principal: Annotated[Principal, Depends(require(P.cases_work))],
                   language: str | None = None) -> dict:
    """The letter as it would go (nothing written); the name masked unless the caller sees personal data."""
    case = visible_case(session, principal, case_id)
    r = letters.preview_letter(session, cipher=cipher, case_id=case.id, template=template, channel=channel,
                               language=language, unmasked=principal.sees_pii_of(case.borrower_id))
    return {"template": r.template, "channel": r.channel, "language": r.language, "subject": r.subject,
            "body": r.body}


@router.post("/cases/{case_id}/letters", status_code=201)
def send_letter(case_id: int, body: LetterIn, request: Request, session: SessionDep, cipher: CipherDep,
                principal: Annotated[Principal, Depends(require(P.cases_work))]) -> JSONResponse:
    """Queues a letter or notice the case's stage allows, after the compliance guard (as the case page does);
    a refusal is committed to the contact log and answered 409 with the rule."""
    visible_case(session, principal, case_id)
    result = letters.send_letter(session, cipher=cipher, case_id=case_id, template=body.template,
                                 channel=body.channel, language=body.language, at=utcnow(), actor=principal.actor,
                                 agent_user_id=principal.user_id)
    d = result.decision
    if not d.allowed:
        problem = {"type": "urn:arrears:problem:contact-refused", "title": "Letter refused", "status": 409,
                   "detail": f"{d.reason_zh} / {d.reason_en}", "instance": request.url.path, "field": None,
                   "rule": d.rule, "errors": [], "allowed": False, "broken": list(d.broken),
                   "next_allowed_at": d.next_allowed_at}
        return JSONResponse(jsonable_encoder(problem), status_code=409, media_type=PROBLEM_JSON)
    m = result.message
    return JSONResponse(jsonable_encoder({
        "outbox_id": m.id, "dedupe_key": m.dedupe_key, "status": m.status, "template": m.template,
        "channel": m.channel, "language": m.language, "already": result.already}), status_code=201 if not
        result.already else 200)
