"""Deadline reminders, set-based: ``legal_deadlines_due`` lists the open deadlines whose reminder date has come
(one query, any number of cases); ``raise_deadline_tasks`` turns them into tasks for each case's legal officer
with one INSERT … SELECT (a deadline gets one task, so running it twice raises nothing new) and marks deadlines
whose last day has passed as lapsed. One audit event records each run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.db.base import UTCDateTime, utcnow
from arrears.legal.tables import Deadline, LegalCase, LegalTask


@dataclass(frozen=True)
class DueDeadline:
    deadline_id: int
    legal_case_id: int
    case_id: int
    kind: str
    due_on: date
    officer_user_id: int | None
    source: str


def legal_deadlines_due(session: Session, on: date) -> list[DueDeadline]:
    rows = session.execute(
        select(Deadline.id, Deadline.legal_case_id, LegalCase.case_id, Deadline.kind, Deadline.due_on,
               LegalCase.officer_user_id, Deadline.source)
        .join(LegalCase, LegalCase.id == Deadline.legal_case_id)
        .where(Deadline.status == "open", Deadline.remind_on <= on, LegalCase.status == "open")
        .order_by(Deadline.due_on, Deadline.id)).all()
    return [DueDeadline(*row) for row in rows]


_RAISE = text("""
    INSERT INTO legal_tasks (deadline_id, legal_case_id, assignee_user_id, kind, due_on, raised_on, status, created_at)
    SELECT d.id, d.legal_case_id, c.officer_user_id, d.kind, d.due_on, :on, 'open', :now
    FROM legal_deadlines d JOIN legal_cases c ON c.id = d.legal_case_id
    WHERE d.status = 'open' AND d.remind_on <= :on AND c.status = 'open'
      AND NOT EXISTS (SELECT 1 FROM legal_tasks t WHERE t.deadline_id = d.id)""").bindparams(
    bindparam("on", type_=Date()), bindparam("now", type_=UTCDateTime()))
_LAPSE = text("UPDATE legal_deadlines SET status = 'lapsed' WHERE status = 'open' AND due_on < :on").bindparams(
    bindparam("on", type_=Date()))


def raise_deadline_tasks(session: Session, on: date, *, actor: str = "legal-deadlines") -> dict:
    raised = session.execute(_RAISE, {"on": on, "now": utcnow()}).rowcount
    lapsed = session.execute(_LAPSE, {"on": on}).rowcount
    if raised or lapsed:
        append_event(session, actor=actor, action="legal.deadline_reminders", subject_type="legal_deadline_run",
                     subject_id=on.isoformat(), after={"raised": raised, "lapsed": lapsed})
    return {"raised": raised, "lapsed": lapsed}


def open_tasks(session: Session, assignee_user_id: int | None = None) -> list[LegalTask]:
    stmt = select(LegalTask).where(LegalTask.status == "open").order_by(LegalTask.due_on, LegalTask.id)
    if assignee_user_id is not None:
        stmt = stmt.where(LegalTask.assignee_user_id == assignee_user_id)
    return list(session.scalars(stmt))
