"""/negotiations/{id}: the negotiation desk and its actions (verify the hardship application, make an offer
from an option or the calculator, withdraw / accept / reject an offer, prepare the agreement and send it for
signature). A failed action shows the desk again with the reason next to its field; success redirects."""

from __future__ import annotations

import json
from decimal import InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from arrears.agreements import documents, signing
from arrears.agreements import service as agreements
from arrears.agreements.tables import Agreement
from arrears.auth.model import Permission, Principal
from arrears.db.versioned import load_versioned
from arrears.errors import NotFound, Problem
from arrears.negotiation import hardship, rounds
from arrears.negotiation.accepted import accepted_offer
from arrears.negotiation.tables import Negotiation, Offer
from arrears.negotiation.terms import Terms
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.desk import calculator
from arrears.web.desk.common import failed, staff
from arrears.web.desk.view import desk_view
from arrears.web.render import render

router = APIRouter(include_in_schema=False)
READ = Permission.negotiations_read


def _negotiation(session: Session, me: Principal, negotiation_id: int) -> Negotiation | None:
    try:
        return rounds.get_negotiation(session, me, negotiation_id)
    except NotFound:
        return None


def _open(request: Request, session: Session, negotiation_id: int, *wanted: Permission):
    """(me, negotiation) or the response to send instead."""
    me = staff(request, session, *wanted)
    if isinstance(me, Response):
        return me, None
    neg = _negotiation(session, me, negotiation_id)
    if neg is None:
        return render(request, "not_found.html", me, status=404), None
    return me, neg


def _back(neg: Negotiation, anchor: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/negotiations/{neg.id}?done={done}#{anchor}", status_code=303)


def _desk(request, session, cipher, today, me, neg, params, status: int = 200, **extra) -> Response:
    return render(request, "desk/desk.html", me, status=status,
                  **desk_view(request, session, cipher, today, me, neg, params, **extra))


@router.get("/negotiations/{negotiation_id}", response_class=HTMLResponse)
def desk_page(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
              done: str = "") -> Response:
    me, neg = _open(request, session, negotiation_id, READ)
    if neg is None:
        return me
    return _desk(request, session, cipher, today, me, neg, request.query_params, done=done)


@router.get("/negotiations/{negotiation_id}/calculator", response_class=HTMLResponse)
def calculator_fragment(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                        today: Today) -> Response:
    """The calculator alone (the same form and result as on the desk), for desk.js to swap in as you type."""
    me, neg = _open(request, session, negotiation_id, READ)
    if neg is None:
        return me
    view = desk_view(request, session, cipher, today, me, neg, request.query_params, with_options=False)
    if view["calc"] is None:
        return render(request, "not_found.html", me, status=404)
    return render(request, "desk/calculator_fragment.html", me, **view)


@router.post("/negotiations/{negotiation_id}/hardship", response_class=HTMLResponse)
def review(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           application_id: Annotated[int, Form()], version: Annotated[int, Form()],
           decision: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "") -> Response:
    me, neg = _open(request, session, negotiation_id, Permission.hardship_verify)
    if neg is None:
        return me
    try:
        app = hardship.get_application(session, me, application_id)
        if app.loan_id != neg.loan_id:
            raise NotFound(f"no hardship application {application_id}", field="application_id",
                           rule="hardship.exists")
        hardship.review_application(session, cipher, me, application_id=app.id, decision=decision,
                                    note=note.strip()[:2000], version=version)
    except Problem as exc:
        return _desk(request, session, cipher, today, me, neg, {}, status=exc.status,
                     review_error=failed(session, exc), note=note)
    return _back(neg, "hardship", decision)


@router.post("/negotiations/{negotiation_id}/offers", response_class=HTMLResponse)
async def make_offer(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                     today: Today) -> Response:
    """An offer on the terms of a ranked option (``terms``: the option's terms as JSON) or of the calculator's
    fields; refused terms come back next to their fields."""
    me, neg = _open(request, session, negotiation_id, Permission.negotiations_propose)
    if neg is None:
        return me
    form = {k: str(v) for k, v in (await request.form()).items()}
    if form.get("terms"):
        try:
            terms = Terms.from_dict(json.loads(form["terms"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return _desk(request, session, cipher, today, me, neg, {}, status=422,
                         offer_error={"rule": "terms", "field": "terms", "status": 422})
        values = calculator.values_of(terms)
    else:
        values = calculator.read(form, {})
        terms, errors = calculator.parse(values)
        if terms is None:
            return _desk(request, session, cipher, today, me, neg, {**values, "calc": "1"}, status=422,
                         calc_errors=errors)
    try:
        rounds.make_offer(session, me, negotiation_id=neg.id, terms=terms, today=today)
    except Problem as exc:
        error = failed(session, exc)
        field = calculator.FIELD_OF.get(error["field"], "offer")
        return _desk(request, session, cipher, today, me, neg, {**values, "calc": "1"}, status=exc.status,
                     calc_errors={field: error["rule"]}, offer_error=error)
    return _back(neg, "rounds", "offered")


@router.post("/negotiations/{negotiation_id}/offers/{offer_id}", response_class=HTMLResponse)
def decide(negotiation_id: int, offer_id: int, request: Request, session: SessionDep, cipher: CipherDep,
           today: Today, action: Annotated[str, Form()] = "", version: Annotated[int, Form()] = 0) -> Response:
    """Withdraw our offer, or accept / reject the borrower's (the services check side and authority)."""
    me, neg = _open(request, session, negotiation_id, Permission.negotiations_propose)
    if neg is None:
        return me
    use = {"withdraw": rounds.withdraw, "accept": rounds.accept, "reject": rounds.reject}.get(action)
    try:
        offer = load_versioned(session, Offer, offer_id, version, "offer")
        if offer.negotiation_id != neg.id or use is None:
            raise NotFound(f"no offer {offer_id} here", field="offer_id", rule="offer.exists")
        use(session, me, offer.id)
    except Problem as exc:
        return _desk(request, session, cipher, today, me, neg, {}, status=exc.status,
                     round_error=failed(session, exc))
    return _back(neg, "rounds", action)


@router.post("/negotiations/{negotiation_id}/agreement", response_class=HTMLResponse)
def prepare(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
            signing_method: Annotated[str, Form()] = "portal", language: Annotated[str, Form()] = "") -> Response:
    """The draft agreement from the accepted offer, exactly as ``POST /api/v1/negotiations/{id}/agreement``."""
    me, neg = _open(request, session, negotiation_id, Permission.agreements_prepare)
    if neg is None:
        return me
    try:
        accepted = accepted_offer(session, neg.id)
        agreements.create_agreement(session, plan=accepted.plan, loan_id=accepted.loan_id, prepared_by=me.actor,
                                    cipher=cipher, language=language if language in ("zh-CN", "en") else None,
                                    signing_method=signing_method)
    except Problem as exc:
        return _desk(request, session, cipher, today, me, neg, {}, status=exc.status,
                     agreement_error=failed(session, exc))
    return _back(neg, "agreement", "prepared")


@router.post("/negotiations/{negotiation_id}/agreement/send", response_class=HTMLResponse)
def send(negotiation_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
         agreement_id: Annotated[int, Form()], version: Annotated[int, Form()]) -> Response:
    """Sends the one-time signing code to the borrower (again, if a code was lost)."""
    me, neg = _open(request, session, negotiation_id, Permission.agreements_prepare)
    if neg is None:
        return me
    try:
        a = load_versioned(session, Agreement, agreement_id, version, "agreement")
        if a.loan_id != neg.loan_id:
            raise NotFound(f"no agreement {agreement_id} here", field="agreement_id", rule="agreement.exists")
        signing.send_for_signature(session, agreement_id=a.id, actor=me.actor, cipher=cipher)
    except Problem as exc:
        return _desk(request, session, cipher, today, me, neg, {}, status=exc.status,
                     agreement_error=failed(session, exc))
    return _back(neg, "agreement", "sent")


@router.get("/negotiations/{negotiation_id}/agreement/{agreement_id}.pdf")
def agreement_pdf(negotiation_id: int, agreement_id: int, request: Request, session: SessionDep) -> Response:
    me, neg = _open(request, session, negotiation_id, READ)
    if neg is None:
        return me
    a = session.get(Agreement, agreement_id)
    if a is None or a.loan_id != neg.loan_id:
        return render(request, "not_found.html", me, status=404)
    return Response(documents.get(session, a.document_sha256), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{agreements.number(a)}.pdf"'})
