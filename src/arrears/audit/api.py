"""The audit trail over HTTP: events by subject, oldest first, with their hash links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from arrears.audit.tables import Event
from arrears.auth.model import Permission, Principal
from arrears.web.deps import SessionDep, require

router = APIRouter(prefix="/api/v1", tags=["audit"])


class EventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    seq: int
    borrower_id: int | None
    before: dict | None
    after: dict | None
    reason: str
    prev_hash: str
    hash: str


class EventPage(BaseModel):
    items: list[EventOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


@router.get("/events", response_model=EventPage)
def list_events(session: SessionDep, _: Annotated[Principal, Depends(require(Permission.events_read))],
                subject_type: Annotated[str | None, Query(max_length=30)] = None,
                subject_id: Annotated[str | None, Query(max_length=60)] = None,
                borrower_id: int | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> EventPage:
    stmt = select(Event)
    if subject_type:
        stmt = stmt.where(Event.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(Event.subject_id == subject_id)
    if borrower_id is not None:
        stmt = stmt.where(Event.borrower_id == borrower_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Event.id).limit(limit).offset(offset)).all()
    items = [EventOut.model_validate(e, from_attributes=True) for e in rows]
    more = offset + len(items) < total
    return EventPage(items=items, total=total, limit=limit, offset=offset,
                     next_offset=offset + len(items) if more else None)
