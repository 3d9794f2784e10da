"""Complaint routes. A borrower files only for themselves (``borrower_id`` is taken from the sign-in); staff file
for a named borrower. Reading, assigning, resolving and statistics need ``complaints:manage``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.complaints import service
from arrears.complaints.tables import Complaint
from arrears.db.base import utcnow
from arrears.errors import InvalidInput, NotFound
from arrears.privacy import PersonalDataCipher
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1", tags=["complaints"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComplaintIn(_In):
    borrower_id: int | None = None  # staff: required; a borrower: omitted or their own
    category: str
    channel: str = "portal"
    text: str = Field(min_length=1, max_length=service.MAX_TEXT)
    case_id: int | None = None
    loan_id: int | None = None


class AssignIn(_In):
    assignee_user_id: int
    expected_version: int


class CloseIn(_In):
    status: Literal["resolved", "rejected"]
    resolution: str = Field(min_length=1, max_length=service.MAX_TEXT)
    expected_version: int


class ComplaintOut(BaseModel):
    id: int
    borrower_id: int
    case_id: int | None
    loan_id: int | None
    channel: str
    category: str
    status: str
    filed_at: datetime
    sla_due_on: date
    overdue: bool
    assignee_user_id: int | None
    resolved_at: datetime | None
    text: str | None  # only for complaints:manage
    resolution: str | None
    version: int


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    total: int


def _out(c: Complaint, cipher: PersonalDataCipher | None, today: date) -> ComplaintOut:
    text = None if cipher is None else cipher.decrypt(c.text_enc)
    resolution = None if cipher is None or c.resolution_enc is None else cipher.decrypt(c.resolution_enc)
    return ComplaintOut(id=c.id, borrower_id=c.borrower_id, case_id=c.case_id, loan_id=c.loan_id, channel=c.channel,
                        category=c.category, status=c.status, filed_at=c.filed_at, sla_due_on=c.sla_due_on,
                        overdue=c.status in service.OPEN and c.sla_due_on < today,
                        assignee_user_id=c.assignee_user_id, resolved_at=c.resolved_at, text=text,
                        resolution=resolution, version=c.version)


@router.post("/complaints", response_model=ComplaintOut, status_code=201)
def file_complaint(body: ComplaintIn, session: SessionDep, cipher: CipherDep, today: Today,
                   principal: Annotated[Principal, Depends(require(P.complaints_file))]) -> ComplaintOut:
    if principal.self_scoped:
        if body.borrower_id not in (None, principal.borrower_id):
            raise NotFound(f"no borrower {body.borrower_id}", field="borrower_id", rule="borrower.exists")
        borrower_id, channel = principal.borrower_id, "portal"
    else:
        if body.borrower_id is None:
            raise InvalidInput("name the borrower who complains", field="borrower_id", rule="complaint.borrower")
        borrower_id, channel = body.borrower_id, body.channel
    assert borrower_id is not None
    complaint = service.file_complaint(session, cipher=cipher, borrower_id=borrower_id, category=body.category,
                                       channel=channel, text=body.text, filed_at=utcnow(), actor=principal.actor,
                                       filed_by_user_id=principal.user_id, case_id=body.case_id,
                                       loan_id=body.loan_id)
    # The filer sees their own words back; the resolution comes later.
    return _out(complaint, cipher, today)


@router.get("/complaints", response_model=ComplaintPage)
def list_complaints(session: SessionDep, today: Today,
                    principal: Annotated[Principal, Depends(require(P.complaints_manage))],
                    status: str | None = None, category: str | None = None, borrower_id: int | None = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0)] = 0) -> ComplaintPage:
    stmt = select(Complaint)
    for column, value in ((Complaint.status, status), (Complaint.category, category),
                          (Complaint.borrower_id, borrower_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Complaint.id).limit(limit).offset(offset)).all()
    return ComplaintPage(items=[_out(c, None, today) for c in rows], total=total)


@router.get("/complaints/stats")
def complaint_statistics(session: SessionDep, today: Today,
                         principal: Annotated[Principal, Depends(require(P.complaints_manage))]) -> dict:
    stats = service.complaint_stats(session, today)
    median = stats["median_days_to_resolve"]
    return {**stats, "median_days_to_resolve": None if median is None else str(median)}


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut)
def get_complaint(complaint_id: int, session: SessionDep, cipher: CipherDep, today: Today,
                  principal: Annotated[Principal, Depends(require(P.complaints_manage))]) -> ComplaintOut:
    return _out(service.get_complaint(session, complaint_id), cipher, today)


@router.post("/complaints/{complaint_id}/assign", response_model=ComplaintOut)
def assign_complaint(complaint_id: int, body: AssignIn, session: SessionDep, today: Today,
                     principal: Annotated[Principal, Depends(require(P.complaints_manage))]) -> ComplaintOut:
    complaint = service.take_on(session, complaint_id=complaint_id, assignee_user_id=body.assignee_user_id,
                                expected_version=body.expected_version, actor=principal.actor)
    return _out(complaint, None, today)


@router.post("/complaints/{complaint_id}/close", response_model=ComplaintOut)
def close_complaint(complaint_id: int, body: CloseIn, session: SessionDep, cipher: CipherDep, today: Today,
                    principal: Annotated[Principal, Depends(require(P.complaints_manage))]) -> ComplaintOut:
    complaint = service.close_complaint(session, cipher=cipher, complaint_id=complaint_id, status=body.status,
                                        resolution=body.resolution, expected_version=body.expected_version,
                                        actor=principal.actor, at=utcnow())
    return _out(complaint, cipher, today)
