"""Objections (异议) to credit records over HTTP: record one on an account, list them, answer one."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.credit.objections import answer_objection, record_objection
from arrears.credit.tables import CreditCorrection, CreditObjection
from arrears.errors import InvalidInput
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1/credit", tags=["credit"])
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ObjectionIn(BaseModel):
    loan_id: int
    claim: str = Field(min_length=1, max_length=2000)
    received_on: date | None = None  # default: today


class CorrectionIn(BaseModel):
    month: str = Field(description="YYYY-MM")
    code: str = Field(min_length=1, max_length=1)


class AnswerIn(BaseModel):
    upheld: bool
    answer: str = Field(min_length=1, max_length=2000)
    corrections: list[CorrectionIn] = []
    expected_version: int


class ObjectionOut(BaseModel):
    id: int
    loan_id: int
    received_on: date
    due_on: date
    status: Literal["open", "upheld", "rejected"]
    answered_on: date | None
    answered_late: bool | None
    overdue: bool
    corrections: list[CorrectionIn]
    version: int


def _out(session, o: CreditObjection, today: date) -> ObjectionOut:  # noqa: ANN001
    fixes = session.scalars(select(CreditCorrection).where(CreditCorrection.objection_id == o.id)
                            .order_by(CreditCorrection.month)).all()
    return ObjectionOut(id=o.id, loan_id=o.loan_id, received_on=o.received_on, due_on=o.due_on, status=o.status,
                        answered_on=o.answered_on, answered_late=o.answered_late,
                        overdue=o.status == "open" and today > o.due_on,
                        corrections=[CorrectionIn(month=f"{c.month:%Y-%m}", code=c.code) for c in fixes],
                        version=o.version)


@router.post("/objections", response_model=ObjectionOut, status_code=201)
def create_objection(body: ObjectionIn, session: SessionDep, cipher: CipherDep, today: Today,
                     principal: Annotated[Principal, Depends(require(P.credit_manage))]) -> ObjectionOut:
    objection = record_objection(session, loan_id=body.loan_id, claim=body.claim,
                                 received_on=body.received_on or today, actor=principal.actor, cipher=cipher,
                                 today=today)
    return _out(session, objection, today)


@router.get("/objections", response_model=list[ObjectionOut])
def list_objections(session: SessionDep, today: Today,
                    principal: Annotated[Principal, Depends(require(P.credit_manage))],
                    status: Annotated[Literal["open", "upheld", "rejected"] | None, Query()] = None,
                    loan_id: Annotated[int | None, Query()] = None) -> list[ObjectionOut]:
    stmt = select(CreditObjection).order_by(CreditObjection.due_on, CreditObjection.id).limit(500)
    if status:
        stmt = stmt.where(CreditObjection.status == status)
    if loan_id is not None:
        stmt = stmt.where(CreditObjection.loan_id == loan_id)
    return [_out(session, o, today) for o in session.scalars(stmt)]


@router.post("/objections/{objection_id}/answer", response_model=ObjectionOut)
def answer(objection_id: int, body: AnswerIn, session: SessionDep, cipher: CipherDep, today: Today,
           principal: Annotated[Principal, Depends(require(P.credit_manage))]) -> ObjectionOut:
    fixes = []
    for i, c in enumerate(body.corrections):
        if not MONTH.match(c.month):
            raise InvalidInput(f"corrections[{i}].month must be YYYY-MM", field="corrections",
                               rule="credit.correction_month")
        fixes.append((date.fromisoformat(f"{c.month}-01"), c.code))
    objection = answer_objection(session, objection_id=objection_id, upheld=body.upheld, answer=body.answer,
                                 corrections=fixes, today=today, actor=principal.actor, cipher=cipher,
                                 expected_version=body.expected_version)
    return _out(session, objection, today)
