"""Two more of the case page's forms, on the services the API calls: the outcome of a contact logged without one
(``cases.contacts.record_outcome``, once: if someone recorded it meanwhile the page says so and changes nothing)
and the borrower's do-not-contact flag, set or lifted with a reason (``cases.flags.set_do_not_contact``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from arrears.auth.model import Permission
from arrears.cases import contacts, flags
from arrears.cases.tables import ContactLog
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.workbench.case_pages import OUTCOMES, _case_row, _done, _page, _visible

router = APIRouter(include_in_schema=False)
REASON_MAX = 200  # the flag keeps this much of the reason (cases.flags)


@router.post("/cases/{case_id}/contacts/{contact_id}/outcome", response_class=HTMLResponse)
def record_outcome(case_id: int, contact_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                   today: Today, outcome: Annotated[str, Form()] = "") -> Response:
    found = _case_row(request, session, case_id, ContactLog, contact_id)
    if isinstance(found, Response):
        return found
    me, case, row = found
    form = f"outcome-{row.id}"
    if outcome not in OUTCOMES:
        return _page(request, session, me, case, cipher, today, status=400,
                     errors={form: {"outcome": "required" if not outcome else "choice"}},
                     values={form: {"outcome": outcome}})
    try:
        with savepoint(session):
            contacts.record_outcome(session, cipher=cipher, contact_id=row.id, outcome=outcome, actor=me.actor)
    except Problem as exc:
        session.expire_all()  # the log as it is now
        return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                     errors={form: {"outcome": exc.rule or "invalid"}}, values={form: {"outcome": outcome}})
    return _done(case.id, "outcome")


@router.post("/cases/{case_id}/do-not-contact", response_class=HTMLResponse)
def do_not_contact(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                   on: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    me, case = _visible(request, session, case_id, Permission.cases_manage)
    if isinstance(case, Response):
        return case
    values = {"on": on, "reason": reason}
    errors = {}
    if on not in ("on", "off"):
        errors["on"] = "choice"
    if not reason.strip():
        errors["reason"] = "required"
    elif len(reason) > REASON_MAX:
        errors["reason"] = "too_long"
    if errors:
        return _page(request, session, me, case, cipher, today, status=400, errors={"dnc": errors},
                     values={"dnc": values})
    with savepoint(session):
        flags.set_do_not_contact(session, borrower_id=case.borrower_id, on=on == "on", reason=reason.strip(),
                                 actor=me.actor)
    return _done(case.id, "dnc_on" if on == "on" else "dnc_off")
