"""/negotiations: hardship applications waiting for verification and negotiations by status, each list paged
by id (keyset: ``?before=<id>``, newest first, no count over the table), with the way to open a negotiation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import and_, select

from arrears.auth.model import Permission
from arrears.errors import Problem
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation import rounds
from arrears.negotiation.tables import HardshipApplication, Negotiation
from arrears.web.deps import SessionDep, Today
from arrears.web.desk.common import failed, staff
from arrears.web.render import PAGE_SIZE, render

router = APIRouter(include_in_schema=False)
STATUSES = ("open", "agreed", "closed")


def _page(session, stmt, key, before: int | None) -> tuple[list, int | None]:
    """One page newest first and the id the next page starts before (None on the last page)."""
    if before:
        stmt = stmt.where(key < before)
    rows = session.execute(stmt.order_by(key.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1][0].id if more else None)


def _context(session, status: str, before: int | None, app_before: int | None) -> dict:
    apps = (select(HardshipApplication, Loan.loan_no, Borrower.borrower_no, Negotiation.id)
            .join(Loan, Loan.id == HardshipApplication.loan_id)
            .join(Borrower, Borrower.id == HardshipApplication.borrower_id)
            .outerjoin(Negotiation, and_(Negotiation.loan_id == HardshipApplication.loan_id,
                                         Negotiation.status == "open"))
            .where(HardshipApplication.status == "submitted"))
    negs = (select(Negotiation, Loan.loan_no, Borrower.borrower_no)
            .join(Loan, Loan.id == Negotiation.loan_id).join(Borrower, Borrower.id == Negotiation.borrower_id))
    if status in STATUSES:
        negs = negs.where(Negotiation.status == status)
    app_rows, app_next = _page(session, apps, HardshipApplication.id, app_before)
    neg_rows, neg_next = _page(session, negs, Negotiation.id, before)
    return {"apps": app_rows, "app_next": app_next, "negs": neg_rows, "neg_next": neg_next, "chosen": status,
            "statuses": STATUSES, "before": before, "app_before": app_before}


@router.get("/negotiations", response_class=HTMLResponse)
def negotiations(request: Request, session: SessionDep, status: str = "open", before: int | None = None,
                 app_before: int | None = None) -> Response:
    me = staff(request, session, Permission.negotiations_read)
    if isinstance(me, Response):
        return me
    return render(request, "desk/list.html", me, **_context(session, status, before, app_before))


@router.post("/negotiations", response_class=HTMLResponse)
def open_negotiation(request: Request, session: SessionDep, today: Today,
                     loan_no: Annotated[str, Form()] = "", application_id: Annotated[str, Form()] = "") -> Response:
    """Opens a negotiation for a loan (by its number), with the hardship application it answers if any."""
    me = staff(request, session, Permission.negotiations_propose)
    if isinstance(me, Response):
        return me
    loan_id = session.scalar(select(Loan.id).where(Loan.loan_no == loan_no.strip())) if loan_no.strip() else None
    error = None
    if loan_id is None:
        error = {"rule": "required" if not loan_no.strip() else "loan.exists", "field": "loan_no", "status": 422}
    else:
        try:
            app_id = int(application_id) if application_id.strip().isdigit() else None
            neg = rounds.open_negotiation(session, me, loan_id=loan_id, today=today, application_id=app_id)
            return RedirectResponse(f"/negotiations/{neg.id}", status_code=303)
        except Problem as exc:
            error = failed(session, exc)
    return render(request, "desk/list.html", me, status=error["status"], error=error, loan_no=loan_no,
                  **_context(session, "open", None, None))
