"""What every portal page shares: the signed-in borrower (or the way to the code sign-in), the 404 answer for
anything that is not theirs, a savepoint around a use case whose refusal is shown on the form, and the
institution's repayment channels (``channels.yaml``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from arrears.auth.model import Principal
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.products.catalog import read_yaml, validate_model
from arrears.settings import BUSINESS_TZ
from arrears.web.render import current_principal, render, templates

CHANNELS = Path(__file__).parent / "channels.yaml"
_TZ = ZoneInfo(BUSINESS_TZ)
LOGIN = "/portal/login"


def borrower(request: Request, session) -> Principal | Response:
    """The signed-in borrower, else a response: the code sign-in when signed out, staff to their own pages."""
    me = current_principal(request, session)
    if me is None:
        return RedirectResponse(LOGIN, status_code=303)
    if not me.self_scoped or me.borrower_id is None:
        return RedirectResponse("/loans", status_code=303)
    return me


def not_found(request: Request, me: Principal) -> Response:
    """Someone else's loan, offer, agreement, message or complaint does not exist for this borrower."""
    return render(request, "not_found.html", me, status=404)


def local_date(at: datetime | None) -> date | None:
    """A stored UTC time as the date it was in the business time zone (before ``cn_date``)."""
    return None if at is None else at.astimezone(_TZ).date()


templates.env.filters["local_date"] = local_date  # the portal's templates: {{ c.filed_at | local_date | cn_date }}


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


@contextmanager
def attempt(session) -> Iterator[dict[str, str]]:
    """Runs a use case in a savepoint; a refusal (``Problem``) is undone and left in the yielded dict as
    ``{field: rule}`` for the form to name next to its field."""
    errors: dict[str, str] = {}
    try:
        with savepoint(session):
            yield errors
    except Problem as exc:
        errors[exc.field or "form"] = exc.rule or "invalid"


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field(pattern=r"^(bank_transfer|app|counter|portal)$")
    name_zh: str
    name_en: str
    account_name_zh: str = ""
    account_name_en: str = ""
    bank_zh: str = ""
    bank_en: str = ""
    account_no: str = ""
    hours_zh: str = ""
    hours_en: str = ""


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: tuple[Channel, ...] = Field(min_length=1)
    hotline: str
    source: str = Field(min_length=3)


@lru_cache(maxsize=1)
def channels() -> Channels:
    return validate_model(Channels, read_yaml(CHANNELS), CHANNELS)  # type: ignore[return-value]
