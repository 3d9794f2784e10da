"""What every server-rendered page shares: the Jinja2 environment with the gettext catalogues, the ``yuan``
filter, the ``cn_date`` filter (a date in the page's language, ``i18n.format_date``) and ``cn_local_date`` /
``cn_local_time`` (a stored UTC time in the business time zone), the signed-in person from the session cookie, and the responses pages answer with.

Areas of pages (``web/pages.py`` and the modules beside it) import from here; none keeps its own
environment, so a filter or a catalogue change reaches every page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context
from sqlalchemy import func, select

from arrears.auth.model import Permission, Principal
from arrears.auth.service import resolve_token
from arrears.errors import Unauthorized
from arrears.money import format_yuan
from arrears.settings import BUSINESS_TZ
from arrears.web import i18n

COOKIE = "arrears_session"
PAGE_SIZE = 50
COUNT_CAP = 10_000  # lists count at most this many rows ("more than …"): never a full count over a big table
_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
i18n.install(_env)
templates = Jinja2Templates(env=_env, context_processors=[i18n.template_context])
templates.env.filters["yuan"] = lambda fen: format_yuan(int(fen))


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(ZoneInfo(BUSINESS_TZ)) if moment else None


@pass_context
def _local_date(context, moment: datetime | None) -> str:
    return i18n.format_date(_local(moment), context.get("locale", i18n.DEFAULT_LOCALE))


@pass_context
def _local_time(context, moment: datetime | None) -> str:
    return f"{_local_date(context, moment)} {_local(moment):%H:%M}" if moment else ""


# A stored time (UTC) in the business time zone, as a date or a date with the time of day, in the page's language.
templates.env.filters["cn_local_date"] = _local_date
templates.env.filters["cn_local_time"] = _local_time


def current_principal(request: Request, session) -> Principal | None:
    """Who the session cookie belongs to, or None (no cookie, expired or revoked token)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return resolve_token(session, token)
    except Unauthorized:
        return None


def to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def staff_gate(request: Request, session, permission: Permission,
               *others: Permission) -> tuple[Principal | None, Response | None]:
    """(the signed-in staff member holding ``permission`` or any of ``others``, None) or (…, the response to give
    instead): sign-in, the borrower's own portal (a borrower never reaches staff pages), or the 403 page."""
    me = current_principal(request, session)
    if me is None:
        return None, to_login()
    if me.self_scoped:
        return me, RedirectResponse("/portal", status_code=303)
    if not any(me.can(p) for p in (permission, *others)):
        return me, render(request, "forbidden.html", me, status=403)
    return me, None


def render(request: Request, name: str, principal: Principal | None, status: int = 200, **context) -> HTMLResponse:
    """The template ``name`` with the signed-in person as ``me`` and the request's language."""
    return templates.TemplateResponse(request, name, {"me": principal, **context}, status_code=status)


def bounded_count(session, stmt, cap: int = COUNT_CAP) -> int:
    """Rows of ``stmt``, counted up to ``cap`` + 1 (a template says "more than ``cap``" past it)."""
    return session.scalar(select(func.count()).select_from(stmt.limit(cap + 1).subquery())) or 0
