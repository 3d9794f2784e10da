"""Reading end-of-day results: a loan's delinquency history and the runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import completed_dates
from arrears.delinquency.tables import EodRun, Transition
from arrears.errors import NotFound
from arrears.loans.tables import Loan
from arrears.web.deps import SessionDep, require

router = APIRouter(prefix="/api/v1", tags=["delinquency"])


class DayState(BaseModel):
    business_date: date
    dpd: int
    bucket: str
    tier: str
    m_bucket: str
    classification: str
    overdue_principal_fen: int
    overdue_interest_fen: int
    overdue_fee_fen: int
    overdue_penalty_fen: int
    penalty_due_fen: int
    outstanding_principal_fen: int
    total_outstanding_fen: int
    in_observation: bool
    fully_paid: bool


class TransitionOut(BaseModel):
    business_date: date
    kind: str
    from_value: str
    to_value: str


class DelinquencyHistory(BaseModel):
    loan_id: int
    history: list[DayState]
    transitions: list[TransitionOut]


class RunOut(BaseModel):
    business_date: date
    status: str
    loans: int
    rejected: int
    summary: dict


@router.get("/loans/{loan_id}/delinquency", response_model=DelinquencyHistory)
def loan_delinquency(loan_id: int, request: Request, session: SessionDep,
                     principal: Annotated[Principal, Depends(require(P.loans_read))],
                     start: Annotated[date | None, Query(alias="from")] = None,
                     end: Annotated[date | None, Query(alias="to")] = None) -> DelinquencyHistory:
    loan = session.get(Loan, loan_id)
    if loan is None or not principal.may_see(loan.borrower_id):
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    dates = [d for d in completed_dates(session) if (start is None or d >= start) and (end is None or d <= end)]
    store = SnapshotStore(request.app.state.settings.data_dir / "snapshots")
    rows = store.history(loan_id, dates).to_pylist()
    moves = session.scalars(select(Transition).where(Transition.loan_id == loan_id)
                            .order_by(Transition.business_date, Transition.id)).all()
    return DelinquencyHistory(
        loan_id=loan_id, history=[DayState(**r) for r in rows],
        transitions=[TransitionOut(business_date=t.business_date, kind=t.kind, from_value=t.from_value,
                                   to_value=t.to_value) for t in moves
                     if (start is None or t.business_date >= start) and (end is None or t.business_date <= end)])


@router.get("/eod/runs", response_model=list[RunOut])
def eod_runs(session: SessionDep, principal: Annotated[Principal, Depends(require(P.reports_read))],
             limit: Annotated[int, Query(ge=1, le=366)] = 30) -> list[RunOut]:
    runs = session.scalars(select(EodRun).order_by(EodRun.business_date.desc()).limit(limit)).all()
    return [RunOut(business_date=r.business_date, status=r.status, loans=r.loans, rejected=r.rejected,
                   summary=r.summary) for r in runs]



