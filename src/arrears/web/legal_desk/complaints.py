"""The complaint desk (``complaints:manage``): complaints by SLA due date with the overdue ones marked, a
complaint's page (its words decrypted, the borrower masked as the role requires, what it freezes, its history),
taking one on and resolving or rejecting it under its version, and the statistics with a bar chart. Every
change goes through ``complaints.service``, the functions the API calls."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.auth.model import Permission, Principal
from arrears.auth.tables import User
from arrears.cases.policy import policy as case_policy
from arrears.cases.tables import Case
from arrears.complaints import service
from arrears.complaints.tables import Complaint
from arrears.db.base import utcnow
from arrears.errors import NotFound, Problem
from arrears.loans.schemas import borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.settings import BUSINESS_TZ
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.legal_desk.charts import bars
from arrears.web.legal_desk.common import Form as Fields
from arrears.web.render import COUNT_CAP, PAGE_SIZE, bounded_count, render, staff_gate

router = APIRouter(include_in_schema=False)
STATUSES = ("open", "in_progress", "resolved", "rejected")
PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}  # filed in the last N days


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(BUSINESS_TZ))


@router.get("/complaints", response_class=HTMLResponse)
def desk(request: Request, session: SessionDep, today: Today, status: str = "", category: str = "",
         period: str = "", page: int = 1) -> Response:
    me, refused = staff_gate(request, session, Permission.complaints_manage)
    if refused:
        return refused
    categories = case_policy().complaints.categories
    status = status if status in STATUSES else ""
    category = category if any(c.code == category for c in categories) else ""
    period = period if period in PERIODS else ""
    page = max(page, 1)
    stmt = select(Complaint, Borrower.borrower_no, User.display_name) \
        .join(Borrower, Borrower.id == Complaint.borrower_id) \
        .outerjoin(User, User.id == Complaint.assignee_user_id)
    if status:
        stmt = stmt.where(Complaint.status == status)
    if category:
        stmt = stmt.where(Complaint.category == category)
    if period:
        stmt = stmt.where(Complaint.filed_at >= _start_of(today - timedelta(days=PERIODS[period] - 1)))
    total = bounded_count(session, stmt.with_only_columns(Complaint.id))
    rows = session.execute(stmt.order_by(Complaint.sla_due_on, Complaint.id)
                           .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render(request, "legal_desk/complaints.html", me, rows=rows, total=total, capped=total > COUNT_CAP,
                  pages=max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE)), page=page, today=today,
                  open_states=service.OPEN, statuses=STATUSES, categories=categories, periods=PERIODS,
                  chosen_status=status, category=category, period=period)


@router.get("/complaints/stats", response_class=HTMLResponse)
def statistics(request: Request, session: SessionDep, today: Today) -> Response:
    me, refused = staff_gate(request, session, Permission.complaints_manage)
    if refused:
        return refused
    stats = service.complaint_stats(session, today)
    categories = case_policy().complaints.categories
    names = {c.code: c for c in categories}
    by_category = [(names.get(code, code), n) for code, n in sorted(stats["by_category"].items(),
                                                                      key=lambda kv: (-kv[1], kv[0]))]
    chart = bars([n for _, n in by_category])
    return render(request, "legal_desk/complaint_stats.html", me, stats=stats, today=today, statuses=STATUSES,
                  by_category=by_category, chart=chart, chart_rows=list(zip(by_category, chart.bars, strict=True)))


def _view(session: Session, cipher: PersonalDataCipher, me: Principal, complaint: Complaint) -> dict:
    """What the complaint page shows, read in a fixed number of queries."""
    borrower = session.get(Borrower, complaint.borrower_id)
    frozen = session.execute(select(Case, Loan.loan_no).join(Loan, Loan.id == Case.loan_id)
                             .where(Case.borrower_id == complaint.borrower_id, Case.status == "open")
                             .order_by(Case.id).limit(50)).all() if complaint.status in service.OPEN else []
    events = []
    if me.can(Permission.events_read):
        events = session.scalars(select(Event).where(Event.subject_type == service.SUBJECT,
                                                     Event.subject_id == str(complaint.id))
                                 .order_by(Event.seq).limit(100)).all()
    users = {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(
        [i for i in (complaint.assignee_user_id, complaint.filed_by_user_id) if i is not None])))}
    return {"c": complaint, "borrower": borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)),
            "text": cipher.decrypt(complaint.text_enc),
            "resolution": cipher.decrypt(complaint.resolution_enc) if complaint.resolution_enc else None,
            "frozen": frozen, "events": events, "users": users,
            "category": case_policy().complaints.category(complaint.category)}


def _page(request: Request, session: Session, cipher: PersonalDataCipher, me: Principal, complaint_id: int,
          today: date, form: Fields | None = None, status: int = 200) -> Response:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        return render(request, "not_found.html", me, status=404)
    return render(request, "legal_desk/complaint.html", me, status=status, today=today, form=form,
                  open_states=service.OPEN, **_view(session, cipher, me, complaint))


@router.get("/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_page(complaint_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                   today: Today) -> Response:
    me, refused = staff_gate(request, session, Permission.complaints_manage)
    if refused:
        return refused
    return _page(request, session, cipher, me, complaint_id, today)


def _done(complaint_id: int) -> RedirectResponse:
    return RedirectResponse(f"/complaints/{complaint_id}", status_code=303)


@router.post("/complaints/{complaint_id}/take", response_class=HTMLResponse)
def take_on(complaint_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
            version: Annotated[str, Form()] = "") -> Response:
    """Takes the complaint on for oneself: open → in progress (or over from a colleague)."""
    me, refused = staff_gate(request, session, Permission.complaints_manage)
    if refused:
        return refused
    form = Fields("take", {"version": version})
    try:
        service.take_on(session, complaint_id=complaint_id, assignee_user_id=me.user_id,
                        expected_version=form.version(), actor=me.actor)
    except NotFound:
        session.rollback()
        return render(request, "not_found.html", me, status=404)
    except Problem as exc:
        session.rollback()
        return _page(request, session, cipher, me, complaint_id, today, form, form.refused_by(exc))
    return _done(complaint_id)


@router.post("/complaints/{complaint_id}/close", response_class=HTMLResponse)
def close(complaint_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
          version: Annotated[str, Form()] = "", outcome: Annotated[str, Form()] = "",
          resolution: Annotated[str, Form()] = "") -> Response:
    """Resolves or rejects the complaint with the resolution text (kept as typed when refused)."""
    me, refused = staff_gate(request, session, Permission.complaints_manage)
    if refused:
        return refused
    form = Fields("close", {"version": version, "outcome": outcome, "resolution": resolution})
    form.choice("outcome", service.FINAL)
    form.text("resolution", service.MAX_TEXT)
    if not form.ok:
        return _page(request, session, cipher, me, complaint_id, today, form, 422)
    try:
        service.close_complaint(session, cipher=cipher, complaint_id=complaint_id, status=outcome,
                                resolution=resolution, expected_version=form.version(), actor=me.actor,
                                at=utcnow())
    except NotFound:
        session.rollback()
        return render(request, "not_found.html", me, status=404)
    except Problem as exc:
        session.rollback()
        return _page(request, session, cipher, me, complaint_id, today, form,
                     form.refused_by(exc, {"status": "outcome"}))
    return _done(complaint_id)
