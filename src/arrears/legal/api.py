"""The legal API: lawyer letters and notices, litigation cases and what happens in them, deadline tasks and the
evidence bundle. Writes need ``legal:manage``, reads ``legal:read``; the bundle (identities in clear) needs
``legal:evidence`` and is audited. Amounts go in as yuan text or integer fen (as for payments)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.db.base import utcnow
from arrears.legal import outcomes, service
from arrears.legal.bundle import build_bundle
from arrears.legal.deadlines import open_tasks, raise_deadline_tasks
from arrears.legal.model import Award
from arrears.legal.notices import send_notice
from arrears.legal.tables import Deadline, EnforcementAction, LegalCase
from arrears.loans.schemas import MAX_AMOUNT_FEN, AmountIn
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1", tags=["legal"])
Manage = Annotated[Principal, Depends(require(P.legal_manage))]
Read = Annotated[Principal, Depends(require(P.legal_read))]
Fen = Annotated[int, Field(ge=0, le=MAX_AMOUNT_FEN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Versioned(_In):
    expected_version: int = Field(ge=1)


class OpenIn(_In):
    expected_case_version: int = Field(ge=1)
    reason: str = Field(min_length=2, max_length=300)
    officer_user_id: int | None = None


class NoticeIn(_In):
    kind: str = Field(max_length=40)
    channel: Literal["letter", "email"] = "letter"
    firm: str | None = Field(None, max_length=120)
    lawyer: str | None = Field(None, max_length=60)


class FilingIn(Versioned):
    court: str = Field(max_length=120)
    court_case_no: str = Field(max_length=80)
    firm: str = Field(max_length=120)
    lawyer: str = Field(max_length=60)
    filed_on: date
    claim: AmountIn = Field(gt=0, le=MAX_AMOUNT_FEN)


class HearingIn(_In):
    held_on: date
    kind: str = Field(max_length=30)
    note: str = Field("", max_length=500)


class AwardIn(_In):
    principal: AmountIn = Field(ge=0, le=MAX_AMOUNT_FEN)
    interest: AmountIn = Field(ge=0, le=MAX_AMOUNT_FEN)
    penalty: AmountIn = Field(ge=0, le=MAX_AMOUNT_FEN)
    fee: AmountIn = Field(0, ge=0, le=MAX_AMOUNT_FEN)
    costs: AmountIn = Field(0, ge=0, le=MAX_AMOUNT_FEN)


class JudgmentIn(Versioned):
    judgment_no: str = Field(max_length=80)
    judgment_on: date
    served_on: date
    interest_until: date
    award: AwardIn
    performance_days: int | None = Field(None, ge=0, le=365)


class EnforcementIn(Versioned):
    kind: str = Field(max_length=30)
    taken_on: date
    reference: str = Field("", max_length=120)
    amount: AmountIn = Field(0, ge=0, le=MAX_AMOUNT_FEN)
    note: str = Field("", max_length=500)


class CostIn(_In):
    kind: str = Field(max_length=30)
    amount: AmountIn = Field(gt=0, le=MAX_AMOUNT_FEN)
    incurred_on: date
    note: str = Field("", max_length=300)


class RecoveryIn(_In):
    amount: AmountIn = Field(gt=0, le=MAX_AMOUNT_FEN)
    received_on: date
    source: str = Field(pattern=r"^[a-z][a-z_]{1,23}$")
    idempotency_key: str = Field(min_length=1, max_length=100)


class SettlementIn(Versioned):
    settled_on: date
    total: AmountIn = Field(gt=0, le=MAX_AMOUNT_FEN)
    terms: dict


class CloseIn(Versioned):
    outcome: str = Field(max_length=20)
    reason: str = Field("", max_length=300)


class LegalCaseOut(BaseModel):
    id: int
    case_id: int
    loan_id: int
    status: str
    phase: str
    outcome: str | None
    court: str | None
    court_case_no: str | None
    firm: str | None
    lawyer: str | None
    filed_on: date | None
    claim_fen: int | None
    judgment_no: str | None
    judgment_on: date | None
    awarded: dict[str, int | None]
    recovered_fen: int
    enforcement_actions: list[dict]
    deadlines: list[dict]
    version: int


def _out(session, lc: LegalCase) -> LegalCaseOut:  # noqa: ANN001
    actions = session.scalars(select(EnforcementAction).where(EnforcementAction.legal_case_id == lc.id)
                              .order_by(EnforcementAction.id))
    deadlines = session.scalars(select(Deadline).where(Deadline.legal_case_id == lc.id).order_by(Deadline.due_on))
    return LegalCaseOut(
        id=lc.id, case_id=lc.case_id, loan_id=lc.loan_id, status=lc.status, phase=lc.phase, outcome=lc.outcome,
        court=lc.court, court_case_no=lc.court_case_no, firm=lc.firm, lawyer=lc.lawyer, filed_on=lc.filed_on,
        claim_fen=lc.claim_fen, judgment_no=lc.judgment_no, judgment_on=lc.judgment_on, recovered_fen=lc.recovered_fen,
        awarded={k: getattr(lc, f"awarded_{k}_fen") for k in ("principal", "interest", "penalty", "fee", "costs")},
        enforcement_actions=[{"kind": a.kind, "taken_on": a.taken_on, "reference": a.reference,
                              "amount_fen": a.amount_fen} for a in actions],
        deadlines=[{"kind": d.kind, "due_on": d.due_on, "status": d.status, "source": d.source} for d in deadlines],
        version=lc.version)


def _done(session, lc: LegalCase) -> LegalCaseOut:  # noqa: ANN001
    session.flush()
    return _out(session, lc)


@router.post("/cases/{case_id}/legal", response_model=LegalCaseOut, status_code=201)
def open_legal_case(case_id: int, body: OpenIn, session: SessionDep, today: Today, who: Manage) -> LegalCaseOut:
    lc = service.open_legal_case(session, case_id=case_id, expected_case_version=body.expected_case_version,
                                 actor=who.actor, reason=body.reason, today=today, officer_user_id=body.officer_user_id)
    return _done(session, lc)


@router.post("/cases/{case_id}/legal-notices", status_code=201)
def queue_notice(case_id: int, body: NoticeIn, session: SessionDep, cipher: CipherDep, today: Today,
                 who: Manage) -> dict:
    m = send_notice(session, cipher=cipher, case_id=case_id, kind=body.kind, actor=who.actor, now=utcnow(),
                    today=today, channel=body.channel, firm=body.firm, lawyer=body.lawyer)
    return {"outbox_id": m.id, "dedupe_key": m.dedupe_key, "status": m.status, "template": m.template}


@router.get("/cases/{case_id}/evidence-bundle", response_class=Response,
            responses={200: {"content": {"application/zip": {}}}})
def evidence_bundle(case_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                    who: Annotated[Principal, Depends(require(P.legal_evidence))]) -> Response:
    # The letter channel prints into <data dir>/letters (contact.channels.channels_from_env): add those PDFs.
    letters = request.app.state.settings.data_dir / "letters"
    bundle = build_bundle(session, cipher=cipher, case_id=case_id, actor=who.actor, now=utcnow(), letters_dir=letters)
    return Response(bundle.data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="evidence-case-{case_id}.zip"',
        "X-Manifest-SHA256": bundle.manifest_sha256, "Cache-Control": "no-store"})


@router.get("/legal-cases/{legal_case_id}", response_model=LegalCaseOut)
def get_legal_case(legal_case_id: int, session: SessionDep, who: Read) -> LegalCaseOut:
    return _out(session, service.get_legal_case(session, legal_case_id))


@router.post("/legal-cases/{legal_case_id}/filing", response_model=LegalCaseOut)
def file_claim(legal_case_id: int, body: FilingIn, session: SessionDep, who: Manage) -> LegalCaseOut:
    lc = service.file_claim(session, legal_case_id=legal_case_id, expected_version=body.expected_version,
                            court=body.court, court_case_no=body.court_case_no, firm=body.firm, lawyer=body.lawyer,
                            filed_on=body.filed_on, claim_fen=body.claim, actor=who.actor)
    return _done(session, lc)


@router.post("/legal-cases/{legal_case_id}/hearings", status_code=201)
def add_hearing(legal_case_id: int, body: HearingIn, session: SessionDep, who: Manage) -> dict:
    h = service.add_hearing(session, legal_case_id=legal_case_id, held_on=body.held_on, kind=body.kind,
                            note=body.note, actor=who.actor)
    return {"id": h.id}


@router.post("/legal-cases/{legal_case_id}/judgment", response_model=LegalCaseOut)
def record_judgment(legal_case_id: int, body: JudgmentIn, session: SessionDep, who: Manage) -> LegalCaseOut:
    a = body.award
    lc = service.record_judgment(session, legal_case_id=legal_case_id, expected_version=body.expected_version,
                                 judgment_no=body.judgment_no, judgment_on=body.judgment_on, served_on=body.served_on,
                                 award=Award(a.principal, a.interest, a.penalty, a.fee, a.costs),
                                 interest_until=body.interest_until, performance_days=body.performance_days,
                                 actor=who.actor)
    return _done(session, lc)


@router.post("/legal-cases/{legal_case_id}/enforcement-actions", status_code=201)
def add_enforcement(legal_case_id: int, body: EnforcementIn, session: SessionDep, who: Manage) -> dict:
    a = outcomes.add_enforcement_action(session, legal_case_id=legal_case_id, expected_version=body.expected_version,
                                        kind=body.kind, taken_on=body.taken_on, reference=body.reference,
                                        amount_fen=body.amount, note=body.note, actor=who.actor)
    return {"id": a.id}


@router.post("/legal-cases/{legal_case_id}/costs", status_code=201)
def add_cost(legal_case_id: int, body: CostIn, session: SessionDep, who: Manage) -> dict:
    c = service.add_cost(session, legal_case_id=legal_case_id, kind=body.kind, amount_fen=body.amount,
                         incurred_on=body.incurred_on, note=body.note, actor=who.actor)
    return {"id": c.id}


@router.post("/legal-cases/{legal_case_id}/recoveries", status_code=201)
def record_recovery(legal_case_id: int, body: RecoveryIn, session: SessionDep, today: Today, who: Manage) -> dict:
    r = outcomes.record_recovery(session, legal_case_id=legal_case_id, amount_fen=body.amount,
                                 received_on=body.received_on, source=body.source,
                                 idempotency_key=body.idempotency_key, actor=who.actor, today=today)
    return {"id": r.id, "payment_id": r.payment_id}


@router.post("/legal-cases/{legal_case_id}/settlement", status_code=201)
def settle(legal_case_id: int, body: SettlementIn, session: SessionDep, who: Manage) -> dict:
    st = outcomes.settle(session, legal_case_id=legal_case_id, expected_version=body.expected_version,
                         settled_on=body.settled_on, total_fen=body.total, terms=body.terms, actor=who.actor)
    return {"id": st.id, "terms": st.terms}


@router.post("/legal-cases/{legal_case_id}/close", response_model=LegalCaseOut)
def close(legal_case_id: int, body: CloseIn, session: SessionDep, today: Today, who: Manage) -> LegalCaseOut:
    lc = outcomes.close_legal_case(session, legal_case_id=legal_case_id, expected_version=body.expected_version,
                                   outcome=body.outcome, today=today, actor=who.actor, reason=body.reason)
    return _done(session, lc)


@router.get("/legal/tasks")
def my_tasks(session: SessionDep, who: Read, mine: bool = True) -> list[dict]:
    return [{"id": t.id, "legal_case_id": t.legal_case_id, "kind": t.kind, "due_on": t.due_on,
             "raised_on": t.raised_on, "assignee_user_id": t.assignee_user_id}
            for t in open_tasks(session, who.user_id if mine else None)]


@router.post("/legal/deadlines/run")
def run_deadlines(session: SessionDep, today: Today, who: Manage) -> dict:
    return raise_deadline_tasks(session, today, actor=who.actor)
