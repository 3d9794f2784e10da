"""Signing the repayment agreement (``agreements.signing.borrower_sign``, as ``POST /agreements/{id}/sign``): the
document to read, explicit consent and the one-time code the borrower was sent. A wrong or expired code is
named next to the code field and the attempt still counts (the outcome is returned, so the request commits it)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from arrears.agreements import documents, service, signing
from arrears.agreements.tables import Agreement
from arrears.agreements.terms import plan_from_json
from arrears.web.deps import CipherDep, SessionDep
from arrears.web.portal.common import attempt, borrower, not_found, see_other
from arrears.web.render import render

router = APIRouter(include_in_schema=False)


def _own(session, me, agreement_id: int) -> Agreement | None:
    a = session.get(Agreement, agreement_id)
    return a if a is not None and a.borrower_id == me.borrower_id else None


def _page(request: Request, me, a: Agreement, status: int = 200, errors: dict | None = None,
          consent: bool = False, attempts_left: int | None = None) -> Response:
    plan = plan_from_json(a.terms_json)
    schedule = [(i.seq, i.due_on, i.total) for i in plan.schedule]
    total, waived = plan.total_to_pay, plan.waived
    return render(request, "portal/agreement.html", me, status=status, a=a, number=service.number(a),
                  schedule=schedule, total=total, waived=waived, errors=errors or {},
                  consent=consent, attempts_left=attempts_left)


@router.get("/portal/agreements/{agreement_id}", response_class=HTMLResponse)
def agreement_page(agreement_id: int, request: Request, session: SessionDep) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    a = _own(session, me, agreement_id)
    return not_found(request, me) if a is None else _page(request, me, a)


@router.get("/portal/agreements/{agreement_id}/document")
def agreement_document(agreement_id: int, request: Request, session: SessionDep) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    a = _own(session, me, agreement_id)
    if a is None:
        return not_found(request, me)
    return Response(documents.get(session, a.document_sha256), media_type="application/pdf",
                    headers={"ETag": f'"{a.document_sha256}"',
                             "Content-Disposition": f'inline; filename="{service.number(a)}.pdf"'})


@router.post("/portal/agreements/{agreement_id}/sign", response_class=HTMLResponse)
def sign(agreement_id: int, request: Request, session: SessionDep, cipher: CipherDep,
         code: Annotated[str, Form()] = "", consent: Annotated[str, Form()] = "") -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    a = _own(session, me, agreement_id)
    if a is None:
        return not_found(request, me)
    agreed, code = consent == "yes", code.strip()
    errors: dict[str, str] = {}
    if not re.fullmatch(r"[0-9]{4,10}", code):
        errors["code"] = "required" if not code else "code_format"
    if not agreed:
        errors["consent"] = "agreement.consent"
    if errors:
        return _page(request, me, a, 400, errors, agreed)
    outcome = None
    with attempt(session) as errors:
        outcome = signing.borrower_sign(session, agreement_id=a.id, borrower_id=me.borrower_id, code=code,
                                        consent=True, cipher=cipher)
    if not errors and outcome is not None and not outcome.signed:
        errors["code"] = outcome.rule
    if errors:
        return _page(request, me, a, 400 if "code" in errors else 409, errors, agreed,
                     outcome.attempts_left if outcome is not None and outcome.rule == "signing.code_wrong" else None)
    return see_other(f"/portal/agreements/{a.id}")
