"""The case page's letter form: choose a template the case's stage allows, a channel and the language (the
borrower's by default: Chinese unless they chose English), preview it (GET, writes nothing; the borrower's name
masked for a role that does not see personal data), then send it from the preview (POST) through
``cases.letters.send_letter``: the compliance guard and the outbox, as the automatic notices. A refusal is logged
(committed with the request) and shown with its rule and when it may be tried again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from arrears.auth.model import Permission
from arrears.cases import letters
from arrears.contact.templates import LANGUAGES
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.workbench import case_pages
from arrears.web.workbench.case_pages import _done, _page, _problem, _visible

router = APIRouter(include_in_schema=False)
FORM = "letter"


def _checked(case, template: str, channel: str, language: str) -> dict[str, str]:
    """Errors of the form's choices, next to their fields (the service checks them again)."""
    errors = {}
    allowed = letters.templates_for(case.stage)
    if template not in allowed:
        errors["template"] = "required" if not template else "letter.stage"
    elif channel not in letters.channels_for(template):
        errors["channel"] = "required" if not channel else "template.channel"
    if language and language not in LANGUAGES:
        errors["language"] = "choice"
    return errors


def _opened(request: Request, session, case_id: int, cipher, today, values: dict[str, str]):  # noqa: ANN001, ANN202
    """(me, case, answer): ``answer`` is the page to return at once — the case not visible, or the form again with
    its errors next to the fields (400) — or None when the choices are valid."""
    me, case = _visible(request, session, case_id, Permission.cases_work)
    if isinstance(case, Response):
        return me, case, case
    errors = _checked(case, values["template"], values["channel"], values["language"])
    if not errors:
        return me, case, None
    return me, case, _page(request, session, me, case, cipher, today, status=400, errors={FORM: errors},
                           values={FORM: values})


def _failed(request: Request, session, me, case, cipher, today, exc: Problem, values: dict[str, str]) -> Response:  # noqa: ANN001
    """The form again with the use case's refusal (409 for a conflict, else 400)."""
    return _page(request, session, me, case, cipher, today, status=409 if exc.status == 409 else 400,
                 **_problem(FORM, exc, values))


@router.get("/cases/{case_id}/letter", response_class=HTMLResponse)
def preview(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
            template: str = "", channel: str = "", language: str = "") -> Response:
    values = {"template": template, "channel": channel, "language": language}
    me, case, answer = _opened(request, session, case_id, cipher, today, values)
    if answer is not None:
        return answer
    try:
        rendered = letters.preview_letter(session, cipher=cipher, case_id=case.id, template=template,
                                          channel=channel, language=language or None,
                                          unmasked=me.sees_pii_of(case.borrower_id))
    except Problem as exc:
        return _failed(request, session, me, case, cipher, today, exc, values)
    values["language"] = rendered.language
    return _page(request, session, me, case, cipher, today, letter_preview=rendered, values={FORM: values})


@router.post("/cases/{case_id}/letter", response_class=HTMLResponse)
def send(case_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
         template: Annotated[str, Form()] = "", channel: Annotated[str, Form()] = "",
         language: Annotated[str, Form()] = "") -> Response:
    values = {"template": template, "channel": channel, "language": language}
    me, case, answer = _opened(request, session, case_id, cipher, today, values)
    if answer is not None:
        return answer
    try:
        with savepoint(session):
            result = letters.send_letter(session, cipher=cipher, case_id=case.id, template=template,
                                         channel=channel, language=language or None, at=case_pages.now(), actor=me.actor,
                                         agent_user_id=me.user_id)
    except Problem as exc:
        return _failed(request, session, me, case, cipher, today, exc, values)
    if not result.decision.allowed:  # logged as refused (committed with the request), shown with its rule
        return _page(request, session, me, case, cipher, today, status=409, refusal=result.decision,
                     refused_form=FORM, values={FORM: values})
    return _done(case.id, "letter_again" if result.already else "letter")

