"""Complaints: the borrower files one for themselves (``complaints.service.file_complaint`` with the portal
channel and the signed-in borrower, as ``POST /complaints`` does for a borrower) and follows its status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from arrears.cases.policy import policy
from arrears.complaints import service
from arrears.complaints.tables import Complaint
from arrears.db.base import utcnow
from arrears.loans.tables import Loan
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.portal.common import attempt, borrower, not_found, see_other
from arrears.web.render import render

router = APIRouter(include_in_schema=False)
LIST_SIZE = 50


def _list(request: Request, session, me, today, status: int = 200, values: dict | None = None,
          errors: dict | None = None) -> Response:
    rows = session.scalars(select(Complaint).where(Complaint.borrower_id == me.borrower_id)
                           .order_by(Complaint.id.desc()).limit(LIST_SIZE)).all()
    loans = session.scalars(select(Loan).where(Loan.borrower_id == me.borrower_id).order_by(Loan.id)).all()
    return render(request, "portal/complaints.html", me, status=status, complaints=rows, loans=loans, today=today,
                  categories=policy().complaints.categories, values=values or {}, errors=errors or {},
                  max_text=service.MAX_TEXT)


@router.get("/portal/complaints", response_class=HTMLResponse)
def complaints(request: Request, session: SessionDep, today: Today) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    return _list(request, session, me, today)


@router.post("/portal/complaints", response_class=HTMLResponse)
def file_complaint(request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                   category: Annotated[str, Form()] = "", text: Annotated[str, Form()] = "",
                   loan_id: Annotated[str, Form()] = "") -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    values = {"category": category, "text": text, "loan_id": loan_id}
    errors: dict[str, str] = {}
    if policy().complaints.category(category) is None:
        errors["category"] = "required"
    if not text.strip():
        errors["text"] = "required"
    elif len(text) > service.MAX_TEXT:
        errors["text"] = "too_long"
    loan = None
    if loan_id.strip():
        loan = session.get(Loan, int(loan_id)) if loan_id.strip().isdigit() else None
        if loan is None or loan.borrower_id != me.borrower_id:
            errors["loan_id"] = "complaint.of_borrower"
    if not errors:
        with attempt(session) as errors:
            c = service.file_complaint(session, cipher=cipher, borrower_id=me.borrower_id, category=category,
                                       channel="portal", text=text, filed_at=utcnow(), actor=me.actor,
                                       filed_by_user_id=me.user_id, loan_id=loan.id if loan else None)
        if not errors:
            return see_other(f"/portal/complaints/{c.id}")
    return _list(request, session, me, today, 400, values, errors)


@router.get("/portal/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint(complaint_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    c = session.get(Complaint, complaint_id)
    if c is None or c.borrower_id != me.borrower_id:
        return not_found(request, me)
    return render(request, "portal/complaint.html", me, c=c, text=cipher.decrypt(c.text_enc),
                  resolution=cipher.decrypt(c.resolution_enc) if c.resolution_enc else None,
                  category=policy().complaints.category(c.category), today=today)
