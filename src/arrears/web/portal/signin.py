"""Sign-in with a one-time code (``auth.one_time``): the number, then the code. Both steps answer the same
whether or not the number is a borrower's, and every failed code gets the same message."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from arrears.auth import one_time
from arrears.web.deps import CipherDep, SessionDep
from arrears.web.portal.common import see_other
from arrears.web.render import COOKIE, render

router = APIRouter(include_in_schema=False)
TEMPLATE = "portal/login.html"


def _context() -> dict:
    pol = one_time.policy()
    return {"valid_minutes": pol.code_valid_minutes, "digits": pol.code_digits}


@router.get("/portal/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, TEMPLATE, None, step="number", **_context())


@router.post("/portal/login", response_class=HTMLResponse)
def send_code(request: Request, session: SessionDep, cipher: CipherDep,
              identifier: Annotated[str, Form()] = "") -> Response:
    text = identifier.strip()
    if not text or len(text) > 40:
        return render(request, TEMPLATE, None, status=400, step="number", identifier=text[:40],
                      errors={"identifier": "required" if not text else "too_long"}, **_context())
    one_time.request_code(session, cipher, text)  # the same page follows whatever happened
    return render(request, TEMPLATE, None, step="code", identifier=text, **_context())


@router.post("/portal/login/code", response_class=HTMLResponse)
def check_code(request: Request, session: SessionDep, cipher: CipherDep, identifier: Annotated[str, Form()] = "",
               code: Annotated[str, Form()] = "") -> Response:
    code = code.strip()
    digits = one_time.policy().code_digits
    if not re.fullmatch(rf"[0-9]{{{digits}}}", code):
        return render(request, TEMPLATE, None, status=400, step="code", identifier=identifier,
                      errors={"code": "required" if not code else "code_format"}, **_context())
    out = one_time.verify_code(session, cipher, identifier, code, ttl=request.app.state.token_ttl)
    if not out.signed_in:  # wrong, expired, used up or unknown number: one answer
        return render(request, TEMPLATE, None, status=400, step="code", identifier=identifier,
                      errors={"code": "code_invalid"}, **_context())
    response = see_other("/portal")
    response.set_cookie(COOKIE, out.issued.token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", expires=out.issued.expires_at)
    return response
