"""Reading a loan's risk scores with their reasons (Chinese and English)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.errors import NotFound
from arrears.loans.tables import Loan
from arrears.scores.catalog import feature_catalog
from arrears.scores.registry import models_dir
from arrears.scores.service import score_now
from arrears.scores.tables import Score
from arrears.settings import business_date
from arrears.web.deps import SessionDep, require

router = APIRouter(prefix="/api/v1", tags=["scores"])


class Reason(BaseModel):
    code: str
    zh: str
    en: str


class ScoreOut(BaseModel):
    kind: str
    as_of: date
    probability: Decimal
    model_version: str
    reasons: list[Reason]
    stored: bool  # False: computed on request (live=true), not stored


def reasons_out(codes: list[str] | tuple[str, ...], kind: str) -> list[Reason]:
    described = feature_catalog().describe(kind)
    return [Reason(code=c, zh=described[c].reason_zh, en=described[c].reason_en) for c in codes if c in described]


@router.get("/loans/{loan_id}/scores", response_model=list[ScoreOut])
def loan_scores(loan_id: int, request: Request, session: SessionDep,
                principal: Annotated[Principal, Depends(require(P.scores_read))],
                live: Annotated[bool, Query(description="Score now with the active models (not stored).")] = False,
                ) -> list[ScoreOut]:
    """The latest stored score of each kind; with ``live=true`` the score that applies now (propensity when overdue,
    early warning when current), computed and not stored."""
    loan = session.get(Loan, loan_id)
    if loan is None or not principal.may_see(loan.borrower_id):
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    if live:
        s = score_now(session, loan_id, business_date(), models_dir(request.app.state.settings.data_dir))
        return [] if s is None else [ScoreOut(kind=s.kind, as_of=s.as_of, probability=s.probability,
                                              model_version=s.model_version, reasons=reasons_out(s.reasons, s.kind),
                                              stored=False)]
    latest = {}
    for row in session.scalars(select(Score).where(Score.loan_id == loan_id).order_by(Score.as_of)):
        latest[row.kind] = row
    return [ScoreOut(kind=r.kind, as_of=r.as_of, probability=Decimal(r.probability).quantize(Decimal("0.000001")),
                     model_version=r.model_version, reasons=reasons_out(r.reasons.split(","), r.kind), stored=True)
            for r in latest.values()]
