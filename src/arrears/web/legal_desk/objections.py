"""Credit-report objections (``credit:manage``): the list by answer date with the late ones marked, recording one,
and answering it (upheld with corrected month codes, or rejected) under its version, through
``credit.objections`` — the functions the API calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.model import Permission, Principal
from arrears.credit.objections import MAX_TEXT, answer_objection, record_objection
from arrears.credit.policy import credit_policy
from arrears.credit.tables import CreditCorrection, CreditObjection
from arrears.errors import NotFound, Problem
from arrears.loans.schemas import borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.legal_desk.common import Form as Fields
from arrears.web.render import COUNT_CAP, PAGE_SIZE, bounded_count, render, staff_gate

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
STATUSES = ("open", "upheld", "rejected")


def _list(request: Request, session: Session, me: Principal, today: date, status: str = "", page: int = 1,
          form: Fields | None = None, code: int = 200) -> Response:
    status = status if status in STATUSES else ""
    page = max(page, 1)
    stmt = select(CreditObjection, Loan.loan_no).join(Loan, Loan.id == CreditObjection.loan_id)
    if status:
        stmt = stmt.where(CreditObjection.status == status)
    total = bounded_count(session, stmt.with_only_columns(CreditObjection.id))
    rows = session.execute(stmt.order_by(CreditObjection.due_on, CreditObjection.id).limit(PAGE_SIZE)
                           .offset((page - 1) * PAGE_SIZE)).all()
    return render(request, "legal_desk/objections.html", me, status=code, rows=rows, total=total, today=today,
                  capped=total > COUNT_CAP, pages=max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE)), page=page,
                  chosen_status=status, statuses=STATUSES, form=form)


@router.get("/credit/objections", response_class=HTMLResponse)
def objections(request: Request, session: SessionDep, today: Today, status: str = "", page: int = 1) -> Response:
    me, refused = staff_gate(request, session, Permission.credit_manage)
    return refused or _list(request, session, me, today, status, page)


@router.post("/credit/objections", response_class=HTMLResponse)
def record(request: Request, session: SessionDep, cipher: CipherDep, today: Today, loan_no: Text = "",
           received_on: Text = "", claim: Text = "") -> Response:
    me, refused = staff_gate(request, session, Permission.credit_manage)
    if refused:
        return refused
    form = Fields("record", {"loan_no": loan_no, "received_on": received_on, "claim": claim})
    number, received, text = form.text("loan_no", 40), form.day("received_on", required=False), \
        form.text("claim", MAX_TEXT)
    loan_id = session.scalar(select(Loan.id).where(Loan.loan_no == number)) if number else None
    if number and loan_id is None:
        form.refuse("loan_no", "loan_unknown")
    if not form.ok:
        return _list(request, session, me, today, form=form, code=422)
    try:
        objection = record_objection(session, loan_id=loan_id, claim=text, received_on=received or today,
                                     actor=me.actor, cipher=cipher, today=today)
    except Problem as exc:
        session.rollback()
        return _list(request, session, me, today, form=form, code=form.refused_by(exc))
    return RedirectResponse(f"/credit/objections/{objection.id}", status_code=303)


def _page(request: Request, session: Session, cipher: PersonalDataCipher, me: Principal, objection_id: int,
          today: date, form: Fields | None = None, code: int = 200) -> Response:
    o = session.get(CreditObjection, objection_id)
    if o is None:
        return render(request, "not_found.html", me, status=404)
    borrower = session.get(Borrower, o.borrower_id)
    fixes = session.scalars(select(CreditCorrection).where(CreditCorrection.objection_id == o.id)
                            .order_by(CreditCorrection.month)).all()
    return render(request, "legal_desk/objection.html", me, status=code, o=o, form=form, today=today,
                  loan=session.get(Loan, o.loan_id), fixes=fixes, claim=cipher.decrypt(o.claim_enc),
                  answer=cipher.decrypt(o.answer_enc) if o.answer_enc else None,
                  borrower=borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)),
                  alphabet=credit_policy().status_codes.alphabet)


@router.get("/credit/objections/{objection_id}", response_class=HTMLResponse)
def objection_page(objection_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                   today: Today) -> Response:
    me, refused = staff_gate(request, session, Permission.credit_manage)
    return refused or _page(request, session, cipher, me, objection_id, today)


def _corrections(form: Fields) -> list[tuple[date, str]]:
    """Lines "YYYY-MM code" into (first of the month, code); any other line refuses the field."""
    fixes = []
    for line in form.values["corrections"].splitlines():
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) != 2 or len(parts[0]) != 7:
                raise ValueError(line)
            fixes.append((date.fromisoformat(f"{parts[0]}-01"), parts[1]))
        except ValueError:
            form.refuse("corrections", "correction_lines")
            return []
    return fixes


@router.post("/credit/objections/{objection_id}/answer", response_class=HTMLResponse)
def answer(objection_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           version: Text = "", decision: Text = "", reply: Text = "", corrections: Text = "") -> Response:
    me, refused = staff_gate(request, session, Permission.credit_manage)
    if refused:
        return refused
    form = Fields("answer", {"version": version, "decision": decision, "reply": reply, "corrections": corrections})
    form.choice("decision", ("upheld", "rejected"))
    text, fixes = form.text("reply", MAX_TEXT), _corrections(form)
    if not form.ok:
        return _page(request, session, cipher, me, objection_id, today, form, 422)
    try:
        answer_objection(session, objection_id=objection_id, upheld=decision == "upheld", answer=text,
                         corrections=fixes, today=today, actor=me.actor, cipher=cipher,
                         expected_version=form.version())
    except NotFound:
        session.rollback()
        return render(request, "not_found.html", me, status=404)
    except Problem as exc:
        session.rollback()
        return _page(request, session, cipher, me, objection_id, today, form,
                     form.refused_by(exc, {"answer": "reply"}))
    return RedirectResponse(f"/credit/objections/{objection_id}", status_code=303)
