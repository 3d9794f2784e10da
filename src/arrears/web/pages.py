"""Server-rendered pages (Chinese first, English available): sign-in, the loan book for staff and a loan's
page (the borrower's own pages are ``web/portal/``). The session token lives in an HttpOnly, SameSite=Strict cookie; every
page checks the same permissions as the API and a borrower only ever sees their own loans.

No text shown to users lives here: templates say everything through the gettext catalogues
(``arrears.web.i18n``); routes pass codes (an error's rule, a status) that the templates name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from arrears.audit.tables import Event
from arrears.auth.model import Permission
from arrears.auth.service import revoke_token, sign_in
from arrears.delinquency.tables import LoanDelinquency
from arrears.errors import Problem
from arrears.loans.schemas import borrower_out, loan_detail
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.products.catalog import Level, Scheme, catalog
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.render import (
    COOKIE,
    COUNT_CAP,
    PAGE_SIZE,
    bounded_count,
    current_principal,
    render,
    to_login,
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    me = current_principal(request, session)
    if me is None:
        return render(request, "home.html", None)
    return RedirectResponse("/portal" if me.self_scoped else "/loans", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, "login.html", None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, session: SessionDep, username: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "") -> Response:
    errors = {k: "required" for k, v in (("username", username), ("password", password)) if not v.strip()}
    if not errors:
        try:
            user, issued = sign_in(session, username, password, ttl=request.app.state.token_ttl)
        except Problem:
            errors["password"] = "bad_credentials"
    if errors:
        return render(request, "login.html", None, status=400, errors=errors, username=username)
    response = RedirectResponse("/portal" if user.role == "borrower" else "/loans", status_code=303)
    response.set_cookie(COOKIE, issued.token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        expires=issued.expires_at)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    me = current_principal(request, session)
    if me is not None:
        revoke_token(session, request.cookies[COOKIE], actor=me.actor)
    response = to_login()
    response.delete_cookie(COOKIE)
    return response


@router.get("/loans", response_class=HTMLResponse)
def loans_page(request: Request, session: SessionDep, q: str = "", product: str = "", page: int = 1) -> Response:
    me = current_principal(request, session)
    if me is None:
        return to_login()
    if me.self_scoped:
        return RedirectResponse("/portal", status_code=303)
    if not me.can(Permission.loans_read):
        return render(request, "forbidden.html", me, status=403)
    page = max(page, 1)
    stmt = select(Loan, Borrower.borrower_no).join(Borrower, Borrower.id == Loan.borrower_id)
    if q.strip():  # the borrower's id first: an OR across the join would read the whole book
        borrower_id = session.scalar(select(Borrower.id).where(Borrower.borrower_no == q.strip()))
        stmt = stmt.where(or_(Loan.loan_no == q.strip(), Loan.borrower_id == borrower_id))
    if product:
        stmt = stmt.where(Loan.product_code == product)
    total = bounded_count(session, stmt.with_only_columns(Loan.id), COUNT_CAP)  # a million are never counted
    rows = session.execute(stmt.order_by(Loan.id).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)).all()
    return render(request, "loans.html", me, rows=rows[:PAGE_SIZE], total=total, capped=total > COUNT_CAP,
                  cap=COUNT_CAP, page=page, q=q, product=product, has_next=len(rows) > PAGE_SIZE,
                  pages=max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE)), products=catalog().products)


@router.get("/loans/{loan_id}", response_class=HTMLResponse)
def loan_page(loan_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today) -> Response:
    me = current_principal(request, session)
    if me is None:
        return to_login()
    loan = session.get(Loan, loan_id)
    if loan is None or not me.may_see(loan.borrower_id) or not me.can(Permission.loans_read):
        return render(request, "not_found.html", me, status=404)
    borrower = session.get(Borrower, loan.borrower_id)
    instalments = session.scalars(select(Instalment).where(Instalment.loan_id == loan.id)).all()
    detail = loan_detail(loan, borrower.borrower_no, instalments, today)
    events = []
    if me.can(Permission.events_read):
        events = session.scalars(select(Event).where(Event.subject_type == "loan", Event.subject_id == str(loan.id))
                                 .order_by(Event.seq.desc()).limit(50)).all()
    product = catalog().product(loan.product_code)
    return render(request, "loan.html", me, loan=detail, product=product,
                   borrower=borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)), events=events,
                   today=today, state=_state_view(session, loan.id, product))


def _state_view(session, loan_id: int, product) -> dict | None:
    """The loan's end-of-day state with its scheme levels (the template names them in the page's
    language), or None before any run."""
    state = session.get(LoanDelinquency, loan_id)
    if state is None:
        return None
    cat = catalog()
    levels = {
        "bucket": _level(cat.buckets[product.buckets], state.bucket),
        "tier": _level(cat.buckets["seed3"], state.tier),
        "classification": _level(cat.classifications[product.classification], state.classification),
    }
    return {"row": state, **levels}


def _level(scheme: Scheme, code: str) -> Level | str:
    """The scheme's level with this code, or the code itself if the scheme has none."""
    return next((level for level in scheme.levels if level.code == code), code)
