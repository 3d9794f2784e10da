"""Agreements over HTTP. Staff prepare and countersign; a borrower reads and signs only their own
(self-scoped reads with loans:read, signing with account:self). An agreement is prepared from a negotiation's
accepted offer (``POST /negotiations/{id}/agreement``: ``negotiation.accepted.accepted_offer`` →
``service.create_agreement``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from arrears.agreements import documents, service, signing
from arrears.agreements.certificates import issue_certificates
from arrears.agreements.tables import Agreement
from arrears.auth.model import Permission, Principal
from arrears.errors import NotFound
from arrears.negotiation.accepted import accepted_offer
from arrears.web.deps import CipherDep, SessionDep, Today, require
from arrears.web.errors import problem_response

router = APIRouter(prefix="/api/v1", tags=["agreements"])
Reader = Annotated[Principal, Depends(require(Permission.loans_read))]
Preparer = Annotated[Principal, Depends(require(Permission.agreements_prepare))]
Checker = Annotated[Principal, Depends(require(Permission.agreements_countersign))]
Self = Annotated[Principal, Depends(require(Permission.account_self))]


class AgreementOut(BaseModel):
    id: int
    number: str
    loan_id: int
    borrower_id: int
    status: str
    plan_kind: str
    as_of: date
    terms: dict
    terms_sha256: str
    document_sha256: str
    signing_method: str
    prepared_by: str
    borrower_signed_at: datetime | None
    countersigned_by: str | None
    executed_on: date | None
    stops_collection: bool
    ended_on: date | None
    escalation: str
    certificate_sha256: str | None
    version: int


def _out(a: Agreement) -> AgreementOut:
    return AgreementOut(id=a.id, number=service.number(a), loan_id=a.loan_id, borrower_id=a.borrower_id,
                        status=a.status, plan_kind=a.plan_kind, as_of=a.as_of, terms=json.loads(a.terms_json),
                        terms_sha256=a.terms_sha256, document_sha256=a.document_sha256,
                        signing_method=a.signing_method, prepared_by=a.prepared_by,
                        borrower_signed_at=a.borrower_signed_at, countersigned_by=a.countersigned_by,
                        executed_on=a.executed_on, stops_collection=a.stops_collection, ended_on=a.ended_on,
                        escalation=a.escalation, certificate_sha256=a.certificate_sha256, version=a.version)


def _visible(session, principal: Principal, agreement_id: int) -> Agreement:  # noqa: ANN001
    a = session.get(Agreement, agreement_id)
    if a is None or not principal.may_see(a.borrower_id):  # another borrower's agreement does not exist for them
        raise NotFound(f"no agreement {agreement_id}", field="agreement_id", rule="agreement.exists")
    return a


@router.get("/agreements", response_model=list[AgreementOut])
def list_agreements(session: SessionDep, principal: Reader, loan_id: int | None = None) -> list[AgreementOut]:
    stmt = select(Agreement).order_by(Agreement.id)
    if loan_id is not None:
        stmt = stmt.where(Agreement.loan_id == loan_id)
    if principal.self_scoped:
        stmt = stmt.where(Agreement.borrower_id == principal.borrower_id)
    return [_out(a) for a in session.scalars(stmt.limit(500))]


@router.get("/agreements/{agreement_id}", response_model=AgreementOut)
def get_agreement(agreement_id: int, session: SessionDep, principal: Reader) -> AgreementOut:
    return _out(_visible(session, principal, agreement_id))


@router.get("/agreements/{agreement_id}/document", response_class=Response)
def get_document(agreement_id: int, session: SessionDep, principal: Reader) -> Response:
    a = _visible(session, principal, agreement_id)
    return Response(documents.get(session, a.document_sha256), media_type="application/pdf",
                    headers={"ETag": f'"{a.document_sha256}"'})


@router.get("/agreements/{agreement_id}/certificate", response_class=Response)
def get_certificate(agreement_id: int, session: SessionDep, principal: Reader, cipher: CipherDep) -> Response:
    """The settlement certificate (结清证明) of a completed agreement, issued on first request if need be."""
    a = _visible(session, principal, agreement_id)
    if a.status == "completed" and a.certificate_sha256 is None:
        issue_certificates(session, cipher=cipher, agreement_ids=[a.id], actor=principal.actor)
    if a.certificate_sha256 is None:
        raise NotFound(f"agreement {a.id} is {a.status}: a certificate comes with completion",
                       field="agreement_id", rule="agreement.certificate_after_completion")
    return Response(documents.get(session, a.certificate_sha256), media_type="application/pdf")


class FromNegotiationIn(BaseModel):
    signing_method: str = Field(default="portal", pattern="^(portal|oral)$")
    language: str | None = Field(default=None, pattern="^(zh-CN|en)$")


@router.post("/negotiations/{negotiation_id}/agreement", response_model=AgreementOut, status_code=201)
def prepare_from_negotiation(negotiation_id: int, body: FromNegotiationIn, session: SessionDep,
                             principal: Preparer, cipher: CipherDep) -> AgreementOut:
    """The draft agreement of an agreed negotiation: the accepted offer's Plan (digest re-checked against the
    negotiation's hash chain) becomes the terms. The negotiation stays ``agreed``; one live agreement per loan."""
    accepted = accepted_offer(session, negotiation_id)
    return _out(service.create_agreement(session, plan=accepted.plan, loan_id=accepted.loan_id,
                                         prepared_by=principal.actor, cipher=cipher, language=body.language,
                                         signing_method=body.signing_method))


@router.post("/agreements/{agreement_id}/send", response_model=AgreementOut)
def send_for_signature(agreement_id: int, session: SessionDep, principal: Preparer, cipher: CipherDep) -> AgreementOut:
    return _out(signing.send_for_signature(session, agreement_id=agreement_id, actor=principal.actor,
                                           cipher=cipher).agreement)


class SignIn(BaseModel):
    code: str = Field(min_length=4, max_length=10, pattern=r"^[0-9]+$")
    consent: bool


@router.post("/agreements/{agreement_id}/sign", response_model=AgreementOut)
def sign(agreement_id: int, body: SignIn, request: Request, session: SessionDep, principal: Self,
         cipher: CipherDep):  # noqa: ANN201
    """The borrower signs their own agreement. A wrong code is answered 422 and the attempt still counts
    (the answer is returned, not raised, so the request's transaction commits it)."""
    if principal.borrower_id is None:
        raise NotFound(f"no agreement {agreement_id}", field="agreement_id", rule="agreement.exists")
    out = signing.borrower_sign(session, agreement_id=agreement_id, borrower_id=principal.borrower_id,
                                code=body.code, consent=body.consent, cipher=cipher)
    if not out.signed:
        return problem_response(request, 422, "Invalid input", out.detail, field="code", rule=out.rule)
    return _out(session.get(Agreement, agreement_id))


class OralIn(BaseModel):
    call_recording_ref: str = Field(min_length=1, max_length=200)


@router.post("/agreements/{agreement_id}/oral", response_model=AgreementOut)
def record_oral(agreement_id: int, body: OralIn, session: SessionDep, principal: Preparer) -> AgreementOut:
    return _out(signing.record_oral_agreement(session, agreement_id=agreement_id, officer=principal.actor,
                                              call_recording_ref=body.call_recording_ref))


class CountersignIn(BaseModel):
    version: int = Field(ge=1)


@router.post("/agreements/{agreement_id}/countersign", response_model=AgreementOut)
def countersign(agreement_id: int, body: CountersignIn, session: SessionDep, principal: Checker,
                today: Today) -> AgreementOut:
    return _out(service.countersign(session, agreement_id=agreement_id, officer=principal.actor,
                                    business_date=today, expected_version=body.version))


class EndIn(BaseModel):
    reason: str = Field(min_length=1, max_length=300)
    renegotiated: bool = False


@router.post("/agreements/{agreement_id}/terminate", response_model=AgreementOut)
def terminate(agreement_id: int, body: EndIn, session: SessionDep, principal: Preparer, today: Today) -> AgreementOut:
    return _out(service.terminate(session, agreement_id=agreement_id, actor=principal.actor, reason=body.reason,
                                  business_date=today, renegotiated=body.renegotiated))
