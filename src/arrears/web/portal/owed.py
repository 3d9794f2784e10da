"""What is owed and why: the borrower's loans with the amounts by component, days overdue and the schedule,
what happens next (from the case's stage), their rights and the repayment channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from arrears.agreements.tables import Agreement
from arrears.auth.model import Principal
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.schemas import LoanDetail, borrower_out, loan_detail
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.negotiation.tables import HardshipApplication, Negotiation
from arrears.products.catalog import catalog
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.portal.common import borrower, channels, not_found
from arrears.web.render import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class LoanView:
    detail: LoanDetail
    product: object
    dpd: int
    stage: str | None  # the open case's stage code, None without an open case
    rows: list[tuple[object, str]]  # (instalment, paid | overdue | due)


def _dpd(detail: LoanDetail, state: LoanDelinquency | None) -> int:
    """The last end of day's days past due; before any run, from the oldest unpaid instalment past due."""
    if state is not None:
        return state.dpd
    late = [i.due_on for i in detail.schedule if i.due_on < detail.as_of and i.total.outstanding.fen > 0]
    return (detail.as_of - min(late)).days if late else 0


def _row_status(i, as_of: date) -> str:
    if i.total.outstanding.fen <= 0:
        return "paid"
    return "overdue" if i.due_on < as_of else "due"


def loan_view(session, loan: Loan, borrower_no: str, today: date) -> LoanView:
    rows = session.scalars(select(Instalment).where(Instalment.loan_id == loan.id)).all()
    detail = loan_detail(loan, borrower_no, rows, today)
    stage = session.scalar(select(Case.stage).where(Case.loan_id == loan.id, Case.status == "open"))
    return LoanView(detail, catalog().product(loan.product_code), _dpd(detail, session.get(LoanDelinquency, loan.id)),
                    stage, [(i, _row_status(i, today)) for i in detail.schedule])


def own_loan(session, me, loan_id: int) -> Loan | None:
    loan = session.get(Loan, loan_id)
    return loan if loan is not None and loan.borrower_id == me.borrower_id else None


def borrower_loan(request: Request, session, loan_id: int) -> tuple[Principal, Loan] | Response:
    """The signed-in borrower and their loan ``loan_id``, else the response to give: the code sign-in, staff to
    their own pages, or 404 for a loan that is not theirs (its existence is not revealed)."""
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    loan = own_loan(session, me, loan_id)
    return not_found(request, me) if loan is None else (me, loan)


@router.get("/portal", response_class=HTMLResponse)
def portal(request: Request, session: SessionDep, cipher: CipherDep, today: Today) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    b = session.get(Borrower, me.borrower_id)
    loans = session.scalars(select(Loan).where(Loan.borrower_id == me.borrower_id).order_by(Loan.id)).all()
    views = [loan_view(session, loan, b.borrower_no, today) for loan in loans]  # one borrower's few loans
    waiting = session.scalars(select(Agreement).where(Agreement.borrower_id == me.borrower_id,
                                                      Agreement.status == "sent_for_signature")
                              .order_by(Agreement.id)).all()
    return render(request, "portal/home.html", me, views=views, today=today, waiting=waiting,
                  borrower=borrower_out(b, cipher, unmasked=True), channels=channels())


@router.get("/portal/loans/{loan_id}", response_class=HTMLResponse)
def loan_page(loan_id: int, request: Request, session: SessionDep, today: Today) -> Response:
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    b = session.get(Borrower, me.borrower_id)
    view = loan_view(session, loan, b.borrower_no, today)
    applications = session.scalars(select(HardshipApplication).where(HardshipApplication.loan_id == loan.id)
                                   .order_by(HardshipApplication.id.desc()).limit(10)).all()
    negotiation = session.scalar(select(Negotiation).where(Negotiation.loan_id == loan.id)
                                 .order_by(Negotiation.id.desc()).limit(1))
    agreements = session.scalars(select(Agreement).where(Agreement.loan_id == loan.id)
                                 .order_by(Agreement.id.desc()).limit(10)).all()
    return render(request, "portal/loan.html", me, v=view, today=today, stages=lifecycle().stages,
                  applications=applications, negotiation=negotiation, agreements=agreements, channels=channels())
