"""What the desk's pages share: who may come in, the completion model the API values options with, and a
failed action answered on the page instead of as problem+json."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from arrears.auth.model import Permission, Principal
from arrears.negotiation.completion import CompletionModel, completion_model
from arrears.negotiation.config import policy
from arrears.negotiation.terms import DebtContext
from arrears.scores.registry import models_dir
from arrears.web.desk.calculator import values_of
from arrears.web.render import staff_gate, templates


def staff(request: Request, session: Session, *wanted: Permission) -> Principal | Response:
    """The signed-in staff member holding any of ``wanted``, else the answer the shared gate gives (sign in, the
    portal for a borrower, 403)."""
    me, refused = staff_gate(request, session, *wanted)
    return refused or me


def completion(request: Request, ctx: DebtContext) -> CompletionModel:
    """The model configuration chooses, exactly as ``negotiation.api`` picks it."""
    return completion_model(policy().completion, models_dir(request.app.state.settings.data_dir), ctx.product.code)


def failed(session: Session, problem) -> dict:
    """A Problem a service raised, as the page shows it (rule and field); the request's work is rolled back
    so nothing half-done is committed."""
    session.rollback()
    return {"rule": problem.rule or "", "field": problem.field or "", "status": problem.status}


def percent(ratio) -> str:
    """A Decimal ratio as a percentage to one decimal (0.6234 → "62.3"); the page adds the % sign."""
    if ratio is None:
        return ""
    return str((Decimal(ratio) * 100).quantize(Decimal("0.1")))


def calc_query(terms) -> str:
    """The calculator's query string for existing terms ("load into the calculator")."""
    return urlencode({**values_of(terms), "calc": "1"})


templates.env.filters["pct"] = percent
templates.env.globals["calc_query"] = calc_query
