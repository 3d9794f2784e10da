"""Every error leaves the API as application/problem+json (RFC 9457).

Body: ``type``, ``title``, ``status``, ``detail``, ``instance`` plus the extensions ``field`` (the
first field at fault), ``rule`` (the rule it broke) and ``errors`` (each field at fault, for forms
and validation). Inputs are never echoed back: a rejected body may hold a password or an ID number.
"""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from arrears.errors import Conflict, Problem

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("arrears.web")


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("'", "").split())


def problem_response(request: Request, status: int, title: str, detail: str, *, field: str | None = None,
                     rule: str | None = None, errors: list[dict] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "type": f"urn:arrears:problem:{_slug(title)}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "field": field,
        "rule": rule,
        "errors": errors or [],
    }
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def _from_problem(request: Request, exc: Problem) -> JSONResponse:
    errors = list(exc.errors)
    if not errors and exc.field:
        errors = [{"field": exc.field, "rule": exc.rule, "message": exc.detail}]
    return problem_response(request, exc.status, exc.title, exc.detail, field=exc.field, rule=exc.rule,
                            errors=errors)


def _loc(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return _from_problem(request, exc)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _loc(e.get("loc", ())), "rule": e.get("type", "invalid"), "message": e.get("msg", "")}
              for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "rule": None}
    names = ", ".join(f"{e['field']} ({e['rule']})" for e in errors)
    detail = f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''}: {names}"
    return problem_response(request, 422, "Invalid input", detail, field=first["field"], rule=first["rule"],
                            errors=errors)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    # Same casing as our own titles ("Not found"), so one status has one problem type.
    return problem_response(request, exc.status_code, phrase[:1] + phrase[1:].lower(), detail,
                            headers=getattr(exc, "headers", None))  # e.g. Allow on a 405


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


async def _conflict_handler(request: Request, exc: Exception) -> JSONResponse:
    # A unique key or version check lost a race with another writer: the caller reloads and retries.
    # Any other integrity failure is a bug, not the caller's to fix.
    if isinstance(exc, IntegrityError) and not _is_unique_violation(exc):
        return await _server_error_handler(request, exc)
    log.warning("write conflict on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _from_problem(request, Conflict("another change got there first; reload and try again",
                                           rule="concurrent_write"))


async def _server_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Frames but not the message: messages of driver errors can carry row values (personal data).
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames)
    return problem_response(request, 500, "Internal server error",
                            "the server failed to handle the request; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(IntegrityError, _conflict_handler)
    app.add_exception_handler(StaleDataError, _conflict_handler)
    app.add_exception_handler(Exception, _server_error_handler)
