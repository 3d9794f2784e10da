"""Case routes: list and read cases (with plan and timeline), move stage, close, assign. A collector sees only
cases they own, of their team or with an open work task of theirs; any other case answers 404, so its existence
is not revealed. Writes take the ``expected_version`` the user saw (409 when stale)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal, Role
from arrears.cases import service
from arrears.cases.schemas import CaseDetail, CaseOut, CasePage, case_detail, case_out
from arrears.cases.tables import Case
from arrears.errors import NotFound
from arrears.loans.tables import Loan
from arrears.queues.tables import WorkTask
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1", tags=["cases"])
TEAM_SCOPED = frozenset({Role.collector})  # roles that see only their own and their team's cases


def scope(stmt, principal: Principal):  # noqa: ANN001, ANN201
    """A collector's cases: owned, of their team, or with an open work task assigned to them (their queue)."""
    if principal.role in TEAM_SCOPED:
        tasked = select(WorkTask.case_id).where(WorkTask.assignee_user_id == principal.user_id,
                                                WorkTask.status == "open")
        mine = or_(Case.owner_user_id == principal.user_id, Case.id.in_(tasked))
        stmt = stmt.where(or_(mine, Case.team == principal.team) if principal.team else mine)
    return stmt


def visible_case(session: Session, principal: Principal, case_id: int) -> Case:
    case = session.scalar(scope(select(Case).where(Case.id == case_id), principal))
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id", rule="case.exists")
    return case


def _loan_no(session: Session, case: Case) -> str:
    return session.scalar(select(Loan.loan_no).where(Loan.id == case.loan_id)) or ""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoveIn(_In):
    to_stage: str
    reason: str
    expected_version: int


class CloseIn(_In):
    close_reason: str
    reason: str = ""
    expected_version: int


class AssignIn(_In):
    owner_user_id: int | None = None
    team: str | None = None
    expected_version: int


@router.get("/cases", response_model=CasePage)
def list_cases(session: SessionDep, principal: Annotated[Principal, Depends(require(P.cases_read))],
               stage: str | None = None, status: str | None = None, owner_user_id: int | None = None,
               team: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
               offset: Annotated[int, Query(ge=0)] = 0) -> CasePage:
    stmt = scope(select(Case, Loan.loan_no).join(Loan, Loan.id == Case.loan_id), principal)
    for column, value in ((Case.stage, stage), (Case.status, status), (Case.owner_user_id, owner_user_id),
                          (Case.team, team)):
        if value is not None:
            stmt = stmt.where(column == value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Case.id).limit(limit).offset(offset)).all()
    return CasePage(items=[case_out(c, no) for c, no in rows], total=total)


@router.get("/cases/{case_id}", response_model=CaseDetail)
def get_case(case_id: int, session: SessionDep, cipher: CipherDep,
             principal: Annotated[Principal, Depends(require(P.cases_read))]) -> CaseDetail:
    return case_detail(session, visible_case(session, principal, case_id), principal, cipher)


@router.post("/cases/{case_id}/stage", response_model=CaseOut)
def move_stage(case_id: int, body: MoveIn, session: SessionDep, today: Today,
               principal: Annotated[Principal, Depends(require(P.cases_work))]) -> CaseOut:
    visible_case(session, principal, case_id)
    case = service.move_stage(session, case_id=case_id, to_stage=body.to_stage, actor=principal.actor,
                              reason=body.reason, expected_version=body.expected_version, today=today)
    return case_out(case, _loan_no(session, case))


@router.post("/cases/{case_id}/close", response_model=CaseOut)
def close_case(case_id: int, body: CloseIn, session: SessionDep, today: Today,
               principal: Annotated[Principal, Depends(require(P.cases_manage))]) -> CaseOut:
    visible_case(session, principal, case_id)
    case = service.close_case(session, case_id=case_id, close_reason=body.close_reason, actor=principal.actor,
                              expected_version=body.expected_version, today=today, reason=body.reason)
    return case_out(case, _loan_no(session, case))


@router.post("/cases/{case_id}/assign", response_model=CaseOut)
def assign_case(case_id: int, body: AssignIn, session: SessionDep,
                principal: Annotated[Principal, Depends(require(P.cases_manage))]) -> CaseOut:
    visible_case(session, principal, case_id)
    case = service.assign(session, case_id=case_id, owner_user_id=body.owner_user_id, team=body.team,
                          actor=principal.actor, expected_version=body.expected_version)
    return case_out(case, _loan_no(session, case))
