"""Negotiation routes: hardship applications and evidence, affordability, plan options, a borrower's own
proposal, negotiation rounds and approvals. Thin: visibility, one service call, the answer's shape.
A borrower account reaches only its own loans (others answer 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.db.base import utcnow
from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.files.store import FileStore
from arrears.loans.schemas import Money
from arrears.errors import InvalidInput
from arrears.negotiation import hardship, rounds
from arrears.negotiation.affordability import assess
from arrears.negotiation.completion import CompletionModel, completion_model
from arrears.negotiation.config import policy
from arrears.negotiation.debt import load_context
from arrears.negotiation.options import generate_options
from arrears.negotiation.plan import COMPONENTS
from arrears.negotiation.proposal import evaluate_proposal
from arrears.negotiation.schemas import (
    AssessmentOut, EvidenceOut, HardshipIn, HardshipOut, NegotiationIn, NegotiationOut, OfferIn, OfferOut,
    OptionOut, OptionsOut, ReviewIn, TermsIn, VerdictOut,
)
from arrears.negotiation.tables import HardshipEvidence, Negotiation, Offer
from arrears.negotiation.terms import DebtContext
from arrears.privacy import PersonalDataCipher
from arrears.scores.registry import models_dir
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1", tags=["negotiation"])
Reader = Annotated[Principal, Depends(require(P.negotiations_read))]
Proposer = Annotated[Principal, Depends(require(P.negotiations_propose))]
Filer = Annotated[Principal, Depends(require(P.hardship_file))]


def _completion(request: Request, ctx: DebtContext) -> CompletionModel:
    """The completion model configuration chooses (trained if active, see negotiation.completion)."""
    return completion_model(policy().completion, models_dir(request.app.state.settings.data_dir),
                            ctx.product.code)


def _store(request: Request) -> FileStore:
    return FileStore(request.app.state.settings.data_dir / "files")


def _hardship_out(session: Session, app, cipher: PersonalDataCipher) -> HardshipOut:  # noqa: ANN001
    statement, description = hardship.statement_of(app, cipher)
    evidence = session.scalars(select(HardshipEvidence).where(HardshipEvidence.application_id == app.id)
                               .order_by(HardshipEvidence.id)).all()
    return HardshipOut(id=app.id, loan_id=app.loan_id, status=app.status, version=app.version,
                       hardship_kind=app.hardship_kind, hardship_since=app.hardship_since,
                       statement=statement.__dict__, description=description, filed_by=app.filed_by,
                       filed_by_borrower=app.filed_by_borrower, consent_at=app.consent_at,
                       reviewed_by=app.reviewed_by,
                       evidence=[EvidenceOut(id=e.id, sha256=e.sha256, media_type=e.media_type,
                                             size_bytes=e.size_bytes) for e in evidence])


@router.post("/loans/{loan_id}/hardship-applications", response_model=HardshipOut, status_code=201)
def file_hardship(loan_id: int, body: HardshipIn, session: SessionDep, cipher: CipherDep, today: Today,
                  principal: Filer) -> HardshipOut:
    app = hardship.file_application(
        session, cipher, principal, loan_id=loan_id, statement=body.statement.to_statement(),
        hardship_kind=body.hardship_kind, hardship_since=body.hardship_since, description=body.description,
        consent=body.consent, today=today)
    return _hardship_out(session, app, cipher)


@router.get("/hardship-applications/{application_id}", response_model=HardshipOut)
def get_hardship(application_id: int, session: SessionDep, cipher: CipherDep, principal: Reader) -> HardshipOut:
    return _hardship_out(session, hardship.get_application(session, principal, application_id), cipher)


@router.post("/hardship-applications/{application_id}/evidence", response_model=EvidenceOut, status_code=201)
def add_evidence(application_id: int, request: Request, session: SessionDep, cipher: CipherDep, principal: Filer,
                 file: Annotated[UploadFile | None, File()] = None) -> EvidenceOut:
    if file is None:
        raise InvalidInput("send the file as multipart form field 'file'", field="file", rule="required")
    limit = policy().evidence.max_bytes
    data = file.file.read(limit + 1)  # never read more than one byte past the limit
    ev = hardship.add_evidence(session, _store(request), cipher, principal, application_id=application_id,
                               data=data, filename=file.filename or "")
    return EvidenceOut(id=ev.id, sha256=ev.sha256, media_type=ev.media_type, size_bytes=ev.size_bytes)


@router.post("/hardship-applications/{application_id}/review", response_model=HardshipOut)
def review_hardship(application_id: int, body: ReviewIn, session: SessionDep, cipher: CipherDep,
                    principal: Annotated[Principal, Depends(require(P.hardship_verify))]) -> HardshipOut:
    app = hardship.review_application(session, cipher, principal, application_id=application_id,
                                      decision=body.decision, note=body.note, version=body.version)
    return _hardship_out(session, app, cipher)


@router.get("/hardship-applications/{application_id}/affordability", response_model=AssessmentOut)
def affordability(application_id: int, session: SessionDep, cipher: CipherDep, principal: Reader) -> AssessmentOut:
    app = hardship.get_application(session, principal, application_id)
    return AssessmentOut.of(assess(hardship.statement_of(app, cipher)[0]))


@router.get("/loans/{loan_id}/plan-options", response_model=OptionsOut)
def plan_options(loan_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today, principal: Reader,
                 application_id: int | None = None) -> OptionsOut:
    hardship.visible_loan(session, principal, loan_id)
    ctx = load_context(session, loan_id, today)
    app, assessment = hardship.latest_assessment(session, cipher, loan_id, application_id)
    options = generate_options(ctx, assessment, model=_completion(request, ctx))
    return OptionsOut(loan_id=loan_id, as_of=today, debt={c: Money.of(getattr(ctx.debt, c)) for c in COMPONENTS},
                      dpd=ctx.dpd, application_id=app.id if app else None,
                      application_status=app.status if app else None,
                      assessment=AssessmentOut.of(assessment) if assessment else None,
                      options=[OptionOut.of(o) for o in options])


@router.post("/loans/{loan_id}/proposals/evaluate", response_model=VerdictOut)
def evaluate(loan_id: int, body: TermsIn, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
             principal: Reader) -> VerdictOut:
    hardship.visible_loan(session, principal, loan_id)
    ctx = load_context(session, loan_id, today)
    _, assessment = hardship.latest_assessment(session, cipher, loan_id)
    v = evaluate_proposal(ctx, body.to_terms(), assessment, model=_completion(request, ctx))
    return VerdictOut(verdict=v.verdict, required_authority=v.required_authority,
                      violations=[{"field": x.field, "rule": x.rule, "detail": x.message_zh, "detail_en": x.message_en}
                                  for x in v.violations],
                      proposal=OptionOut.of(v.option) if v.option else None,
                      counter_offer=OptionOut.of(v.counter_offer) if v.counter_offer else None)


def offer_out(o: Offer) -> OfferOut:
    return OfferOut(id=o.id, negotiation_id=o.negotiation_id, seq=o.seq, party=o.party, made_by=o.made_by,
                    status=rounds.effective_status(o, utcnow()), version=o.version,
                    required_authority=o.required_authority, plan_sha256=o.plan_digest,
                    total_to_pay=Money.of(o.total_to_pay_fen), waived=Money.of(o.waived_fen), expires_at=o.expires_at,
                    approved_by=o.approved_by, decided_by=o.decided_by, terms=o.terms, plan=o.plan)


def _negotiation_out(session: Session, neg: Negotiation, detail: bool = True) -> NegotiationOut:
    out = NegotiationOut(id=neg.id, loan_id=neg.loan_id, status=neg.status, version=neg.version, rounds=neg.rounds,
                         application_id=neg.application_id, accepted_offer_id=neg.accepted_offer_id)
    if detail:
        out.offers = [offer_out(o) for o in session.scalars(select(Offer).where(Offer.negotiation_id == neg.id)
                                                              .order_by(Offer.seq))]
        out.history = [{"seq": e.seq, "at": e.occurred_at.isoformat(), "actor": e.actor, "action": e.action,
                        "after": e.after, "hash": e.hash}
                       for e in session.scalars(select(Event).where(Event.subject_type == rounds.SUBJECT,
                                                                    Event.subject_id == str(neg.id))
                                                .order_by(Event.seq))]
    return out


@router.post("/loans/{loan_id}/negotiations", response_model=NegotiationOut, status_code=201)
def open_negotiation(loan_id: int, body: NegotiationIn, session: SessionDep, today: Today,
                     principal: Proposer) -> NegotiationOut:
    neg = rounds.open_negotiation(session, principal, loan_id=loan_id, today=today, application_id=body.application_id)
    return _negotiation_out(session, neg)


@router.get("/negotiations/{negotiation_id}", response_model=NegotiationOut)
def get_negotiation(negotiation_id: int, session: SessionDep, principal: Reader) -> NegotiationOut:
    return _negotiation_out(session, rounds.get_negotiation(session, principal, negotiation_id))


@router.post("/negotiations/{negotiation_id}/offers", response_model=OfferOut, status_code=201)
def make_offer(negotiation_id: int, body: OfferIn, session: SessionDep, today: Today,
               principal: Proposer) -> OfferOut:
    offer = rounds.make_offer(session, principal, negotiation_id=negotiation_id, terms=body.terms.to_terms(),
                              today=today, party=body.party, expires_in_hours=body.expires_in_hours,
                              counter_to_id=body.counter_to_id)
    return offer_out(offer)


@router.post("/offers/{offer_id}/accept", response_model=OfferOut)
def accept_offer(offer_id: int, session: SessionDep, principal: Proposer) -> OfferOut:
    return offer_out(rounds.accept(session, principal, offer_id))


@router.post("/offers/{offer_id}/reject", response_model=OfferOut)
def reject_offer(offer_id: int, session: SessionDep, principal: Proposer) -> OfferOut:
    return offer_out(rounds.reject(session, principal, offer_id))


@router.post("/offers/{offer_id}/withdraw", response_model=OfferOut)
def withdraw_offer(offer_id: int, session: SessionDep, principal: Proposer) -> OfferOut:
    return offer_out(rounds.withdraw(session, principal, offer_id))


@router.post("/offers/{offer_id}/approve", response_model=OfferOut)
def approve_offer(offer_id: int, session: SessionDep,
                  principal: Annotated[Principal, Depends(require(P.negotiations_approve))]) -> OfferOut:
    return offer_out(rounds.review_offer(session, principal, offer_id, approve=True))


@router.post("/offers/{offer_id}/decline", response_model=OfferOut)
def decline_offer(offer_id: int, session: SessionDep,
                  principal: Annotated[Principal, Depends(require(P.negotiations_approve))]) -> OfferOut:
    return offer_out(rounds.review_offer(session, principal, offer_id, approve=False))
