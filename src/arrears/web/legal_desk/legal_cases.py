"""Legal cases (``legal:read``): the list with each case's next deadline, and a legal case's page — the case and
loan, filing, hearings, judgment, enforcement, costs, recoveries, settlement, deadlines and reminder tasks,
notices sent, the evidence bundle — with the forms of ``legal_forms.py`` for ``legal:manage``."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.auth.model import Permission, Principal
from arrears.auth.tables import User
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case
from arrears.contact.tables import OutboxMessage
from arrears.legal import service
from arrears.legal.notices import owed
from arrears.legal.policy import policy
from arrears.legal.tables import (
    Deadline,
    EnforcementAction,
    Hearing,
    LegalCase,
    LegalCost,
    LegalTask,
    Recovery,
    Settlement,
)
from arrears.loans.schemas import borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.legal_desk.common import Form
from arrears.web.render import COUNT_CAP, PAGE_SIZE, bounded_count, render, staff_gate

router = APIRouter(include_in_schema=False)
STATUSES = ("open", "closed")
PHASES = ("preparing", "filed", "judged", "enforcing")


@router.get("/legal", response_class=HTMLResponse)
def legal_cases(request: Request, session: SessionDep, today: Today, status: str = "open", phase: str = "",
                page: int = 1) -> Response:
    me, refused = staff_gate(request, session, Permission.legal_read)
    if refused:
        return refused
    status = status if status in STATUSES else ""
    phase = phase if phase in PHASES else ""
    page = max(page, 1)
    stmt = select(LegalCase, Loan.loan_no).join(Loan, Loan.id == LegalCase.loan_id)
    if status:
        stmt = stmt.where(LegalCase.status == status)
    if phase:
        stmt = stmt.where(LegalCase.phase == phase)
    total = bounded_count(session, stmt.with_only_columns(LegalCase.id))
    rows = session.execute(stmt.order_by(LegalCase.id.desc()).limit(PAGE_SIZE)
                           .offset((page - 1) * PAGE_SIZE)).all()
    next_deadline: dict[int, Deadline] = {}
    for d in session.scalars(select(Deadline).where(  # the page's cases only, earliest first
            Deadline.legal_case_id.in_([lc.id for lc, _ in rows]), Deadline.status == "open")
            .order_by(Deadline.due_on, Deadline.id)):
        next_deadline.setdefault(d.legal_case_id, d)
    upcoming = session.execute(
        select(Deadline, Loan.loan_no).join(LegalCase, LegalCase.id == Deadline.legal_case_id)
        .join(Loan, Loan.id == LegalCase.loan_id).where(Deadline.status == "open")
        .order_by(Deadline.due_on, Deadline.id).limit(10)).all()
    tasks = session.execute(
        select(LegalTask, Loan.loan_no).join(LegalCase, LegalCase.id == LegalTask.legal_case_id)
        .join(Loan, Loan.id == LegalCase.loan_id)
        .where(LegalTask.status == "open", LegalTask.assignee_user_id == me.user_id)
        .order_by(LegalTask.due_on, LegalTask.id).limit(20)).all()
    return render(request, "legal_desk/legal_cases.html", me, rows=rows, total=total, capped=total > COUNT_CAP,
                  pages=max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE)), page=page, chosen_status=status, phase=phase,
                  statuses=STATUSES, phases=PHASES, next_deadline=next_deadline, upcoming=upcoming, tasks=tasks,
                  policy=policy(), today=today)


def notice_kind(message: OutboxMessage) -> str:
    """The notice kind in a legal notice's dedupe key ``legal:<kind>:case:<id>``."""
    return message.dedupe_key.split(":")[1]


def legal_view(session: Session, cipher: PersonalDataCipher, me: Principal, lc: LegalCase, today: date) -> dict:
    """Everything the legal case page shows, in a fixed number of queries."""
    loan = session.get(Loan, lc.loan_id)
    borrower = session.get(Borrower, lc.borrower_id)
    by_case = {"legal_case_id": lc.id}

    def rows(model, *order):
        return session.scalars(select(model).filter_by(**by_case).order_by(*order)).all()

    events = []
    if me.can(Permission.events_read):
        events = session.scalars(select(Event).where(Event.subject_type == service.SUBJECT,
                                                     Event.subject_id == str(lc.id)).order_by(Event.seq)
                                 .limit(200)).all()
    notices = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == lc.case_id,
                                                          OutboxMessage.dedupe_key.like("legal:%"))
                              .order_by(OutboxMessage.id)).all()
    case = session.get(Case, lc.case_id)
    return {
        "lc": lc, "loan": loan, "case": case, "stage": lifecycle().stage(case.stage), "product": catalog().product(loan.product_code),
        "borrower": borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)),
        "officer": session.get(User, lc.officer_user_id) if lc.officer_user_id else None,
        "hearings": rows(Hearing, Hearing.held_on, Hearing.id),
        "actions": rows(EnforcementAction, EnforcementAction.taken_on, EnforcementAction.id),
        "costs": rows(LegalCost, LegalCost.incurred_on, LegalCost.id),
        "recoveries": rows(Recovery, Recovery.received_on, Recovery.id),
        "settlement": session.scalar(select(Settlement).filter_by(**by_case)),
        "deadlines": rows(Deadline, Deadline.due_on, Deadline.id),
        "tasks": rows(LegalTask, LegalTask.due_on, LegalTask.id),
        "notices": [(notice_kind(m), m) for m in notices], "events": events,
        "owed": owed(session, loan.id, today), "policy": policy(),
    }


def legal_page(request: Request, session: Session, cipher: PersonalDataCipher, me: Principal, legal_case_id: int,
               today: date, form: Form | None = None, status: int = 200) -> Response:
    lc = session.get(LegalCase, legal_case_id)
    if lc is None:
        return render(request, "not_found.html", me, status=404)
    return render(request, "legal_desk/legal_case.html", me, status=status, today=today, form=form,
                  manage=me.can(Permission.legal_manage), evidence=me.can(Permission.legal_evidence), new_key=uuid4().hex,
                  **legal_view(session, cipher, me, lc, today))


@router.get("/legal/{legal_case_id}", response_class=HTMLResponse)
def legal_case(legal_case_id: int, request: Request, session: SessionDep, cipher: CipherDep,
               today: Today) -> Response:
    me, refused = staff_gate(request, session, Permission.legal_read)
    if refused:
        return refused
    return legal_page(request, session, cipher, me, legal_case_id, today)
