"""The case page (/cases/{id}) and its forms: contact through the compliance guard, promise to pay, stage move
and close under the case's version; documents through a permission-checked route; /loans/{id}/case leads to a
loan's open case. Every write calls the service the API calls, inside a savepoint, so a refused form leaves
nothing behind except what the service means to keep (a refused contact is logged, as through the API)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements import documents
from arrears.agreements.tables import Agreement
from arrears.auth.model import Permission, Principal
from arrears.cases import contacts, promises, service
from arrears.cases.api import visible_case
from arrears.cases.evidence import EvidenceStore
from arrears.cases.tables import Case, FieldVisit, PromiseToPay
from arrears.db.base import utcnow
from arrears.errors import NotFound, Problem
from arrears.ledger.service import savepoint
from arrears.money import MoneyError, yuan_to_fen
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.render import current_principal, render, to_login
from arrears.web.workbench.case_view import FORM_METHODS, PURPOSES, case_page_data

router = APIRouter(include_in_schema=False)
OUTCOMES = tuple(contacts.OUTCOMES)


def now() -> datetime:
    """The time a contact is made (tests replace it to stand at a known hour)."""
    return utcnow()


def _visible(request: Request, session: Session, case_id: int, permission: Permission):
    """(principal, case) or the response to give instead: sign-in, 404 (also for a case out of the user's
    scope and for borrowers: its existence is not revealed) or 403."""
    me = current_principal(request, session)
    if me is None:
        return None, to_login()
    if me.self_scoped or not me.can(Permission.cases_read):
        return me, render(request, "not_found.html", me, status=404)
    try:
        case = visible_case(session, me, case_id)
    except NotFound:
        return me, render(request, "not_found.html", me, status=404)
    if not me.can(permission):
        return me, render(request, "forbidden.html", me, status=403)
    return me, case


def _case_row(request: Request, session: Session, case_id: int, model: type, row_id: int):
    """(principal, case, row) for a worker who may see the case and a ``model`` row (a visit, a contact) of
    that case, or the response to give instead: the row of another case is not found, as an unknown one."""
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    row = session.get(model, row_id)
    if row is None or row.case_id != case.id:
        return render(request, "not_found.html", me, status=404)
    return me, case, row


def _page(request: Request, session: Session, me: Principal, case: Case, cipher, today: date, *,
          status: int = 200, **extra) -> Response:
    asked = request.query_params.get("events", "1")
    events_page = max(int(asked), 1) if asked.isdigit() and len(asked) < 7 else 1
    data = case_page_data(session, me, cipher, case, today, now(), events_page)
    context = {"errors": {}, "values": {}, "refusal": None, **data, **extra}
    return render(request, "workbench/case.html", me, status=status, done=request.query_params.get("done", ""),
                  outcomes=OUTCOMES, **context)


def _done(case_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?done={what}", status_code=303)


def _problem(form: str, exc: Problem, values: dict) -> dict:
    """A service's refusal as the form's error: next to its field, or over the form (version, case)."""
    field = exc.field if exc.field in values else "form"
    return {"errors": {form: {field: exc.rule or "invalid"}}, "values": {form: values}}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today) -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_read)
    if isinstance(case, Response):
        return case
    return _page(request, session, me, case, cipher, today)


@router.post("/cases/{case_id}/contact", response_class=HTMLResponse)
def log_contact(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                method: Annotated[str, Form()] = "", purpose: Annotated[str, Form()] = "",
                outcome: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    values = {"method": method, "purpose": purpose, "outcome": outcome, "note": note}
    errors = {k: "required" for k, v in (("method", method), ("purpose", purpose)) if not v}
    if method and method not in FORM_METHODS:
        errors["method"] = "choice"
    if purpose and purpose not in PURPOSES:
        errors["purpose"] = "choice"
    if outcome and outcome not in OUTCOMES:
        errors["outcome"] = "choice"
    if len(note) > 4000:
        errors["note"] = "too_long"
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={"contact": errors},
                     values={"contact": values})
    try:
        with savepoint(session):
            result = contacts.request_contact(session, cipher=cipher, case_id=case.id, method=method, party="debtor",
                                              purpose=purpose, at=now(), actor=me.actor, agent_user_id=me.user_id,
                                              outcome=outcome or None, note=note.strip() or None)
    except Problem as exc:
        return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                     **_problem("contact", exc, values))
    if not result.decision.allowed:  # logged as refused (committed with the request), shown with its rule
        return _page(request, session, me, case, cipher, today, status=409, refusal=result.decision,
                     refused_form="contact", values={"contact": values})
    return _done(case.id, "contact")


def _parse_promise(amount: str, due_on: str) -> tuple[dict, int | None, date | None]:
    errors: dict[str, str] = {}
    fen = day = None
    if not amount.strip():
        errors["amount"] = "required"
    else:
        try:
            fen = yuan_to_fen(amount.strip())
        except (MoneyError, ValueError, ArithmeticError):
            errors["amount"] = "amount_format"
        else:
            if fen <= 0:
                errors["amount"] = "promise.amount_positive"
    if not due_on.strip():
        errors["due_on"] = "required"
    else:
        try:
            day = date.fromisoformat(due_on.strip())
        except ValueError:
            errors["due_on"] = "date_format"
    return errors, fen, day


@router.post("/cases/{case_id}/promise", response_class=HTMLResponse)
def make_promise(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                 amount: Annotated[str, Form()] = "", due_on: Annotated[str, Form()] = "",
                 method: Annotated[str, Form()] = "call", note: Annotated[str, Form()] = "") -> Response:
    """A promise is made in a conversation: the contact (outcome promise to pay) and the promise are recorded
    together, or neither (a guard refusal is still logged, as the API logs it)."""
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    values = {"amount": amount, "due_on": due_on, "method": method, "note": note}
    errors, fen, day = _parse_promise(amount, due_on)
    if method not in FORM_METHODS:
        errors["method"] = "choice"
    if not errors and session.scalar(select(PromiseToPay.id).where(PromiseToPay.case_id == case.id,
                                                                   PromiseToPay.status == "open")) is not None:
        errors["form"] = "promise.one_open"
    if errors:
        return _page(request, session, me, case, cipher, today, status=400 if "form" not in errors else 409,
                     errors={"promise": errors}, values={"promise": values})
    try:
        with savepoint(session):
            result = contacts.request_contact(session, cipher=cipher, case_id=case.id, method=method, party="debtor",
                                              purpose="collect", at=now(), actor=me.actor, agent_user_id=me.user_id,
                                              outcome="promise_to_pay", note=note.strip() or None)
            if result.decision.allowed:
                promises.create_promise(session, contact_id=result.contact.id, amount_fen=fen, due_on=day,
                                        promised_on=today, actor=me.actor)
    except Problem as exc:
        exc.field = {"amount_fen": "amount"}.get(exc.field or "", exc.field)
        return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                     **_problem("promise", exc, values))
    if not result.decision.allowed:
        return _page(request, session, me, case, cipher, today, status=409, refusal=result.decision,
                     refused_form="promise", values={"promise": values})
    return _done(case.id, "promise")


def _version(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


@router.post("/cases/{case_id}/stage", response_class=HTMLResponse)
def move_stage(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
               to_stage: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
               version: Annotated[str, Form()] = "") -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return case
    return _versioned_write(request, session, me, case, cipher, today, "stage",
                            {"to_stage": to_stage, "reason": reason}, version,
                            lambda v: service.move_stage(session, case_id=case.id, to_stage=to_stage, actor=me.actor,
                                                         reason=reason, expected_version=v, today=today))


@router.post("/cases/{case_id}/close", response_class=HTMLResponse)
def close_case(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
               close_reason: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
               version: Annotated[str, Form()] = "") -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_manage)
    if isinstance(case, Response):
        return case
    return _versioned_write(request, session, me, case, cipher, today, "close",
                            {"close_reason": close_reason, "reason": reason}, version,
                            lambda v: service.close_case(session, case_id=case.id, close_reason=close_reason,
                                                         actor=me.actor, expected_version=v, today=today,
                                                         reason=reason))


def _versioned_write(request, session, me, case, cipher, today, form, values, version, write) -> Response:
    """A write under the version the user saw: a stale one (someone changed the case since) says so and
    overwrites nothing."""
    expected = _version(version)
    if expected is None:
        return _page(request, session, me, case, cipher, today, status=400,
                     errors={form: {"form": "case.version"}}, values={form: values})
    try:
        with savepoint(session):
            write(expected)
    except Problem as exc:
        session.expire_all()  # show the case as it is now, not as this request left it
        fresh = session.get(Case, case.id)
        return _page(request, session, me, fresh, cipher, today, status=409 if exc.status == 409 else 400,
                     **_problem(form, exc, values))
    return _done(case.id, form)


@router.get("/cases/{case_id}/documents/visit/{visit_id}/{sha256}")
def visit_evidence(case_id: int, visit_id: int, sha256: str, request: Request, session: SessionDep) -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_read)
    if isinstance(case, Response):
        return case
    visit = session.get(FieldVisit, visit_id)
    refs = {e.get("sha256"): e for e in (visit.evidence or [])} if visit and visit.case_id == case.id else {}
    if sha256 not in refs:
        return render(request, "not_found.html", me, status=404)
    try:
        data = EvidenceStore(request.app.state.settings.data_dir / "files").files.get(sha256)
    except NotFound:
        return render(request, "not_found.html", me, status=404)
    return Response(data, media_type=refs[sha256].get("type") or "application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{sha256[:16]}"'})


@router.get("/cases/{case_id}/documents/agreement/{agreement_id}")
def agreement_document(case_id: int, agreement_id: int, request: Request, session: SessionDep) -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_read)
    if isinstance(case, Response):
        return case
    agreement = session.get(Agreement, agreement_id)
    if agreement is None or agreement.loan_id != case.loan_id:
        return render(request, "not_found.html", me, status=404)
    return Response(documents.get(session, agreement.document_sha256), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="agreement-{agreement.id}.pdf"'})


@router.get("/loans/{loan_id}/case")
def loan_case(loan_id: int, request: Request, session: SessionDep) -> Response:
    """A loan's open case (the link on the loan's page), or 404 when it has none the user may see."""
    me = current_principal(request, session)
    if me is None:
        return to_login()
    case_id = session.scalar(select(Case.id).where(Case.loan_id == loan_id, Case.status == "open"))
    if case_id is None or me.self_scoped or not me.can(Permission.cases_read):
        return render(request, "not_found.html", me, status=404)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
