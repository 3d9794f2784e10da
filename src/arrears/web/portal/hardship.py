"""Applying for hardship (``negotiation.hardship``, as ``POST /loans/{id}/hardship-applications`` and its evidence
route do): the household's monthly figures, the reason, consent and evidence files typed by their bytes, in one
transaction (a refused file leaves nothing half-filed); then the application's status and more evidence."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from arrears.files.store import FileStore
from arrears.loans.tables import Borrower
from arrears.money import MoneyError, yuan_to_fen
from arrears.negotiation import hardship
from arrears.negotiation.affordability import Statement
from arrears.negotiation.config import EXPENSE_CATEGORIES, policy
from arrears.negotiation.tables import HARDSHIP_KINDS, HardshipApplication, HardshipEvidence
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.portal.common import attempt, borrower, not_found, see_other
from arrears.web.portal.owed import borrower_loan
from arrears.web.render import render

router = APIRouter(include_in_schema=False)
INCOMES = ("wages", "business", "other")
FORM = "portal/hardship_form.html"


def _store(request: Request) -> FileStore:
    return FileStore(request.app.state.settings.data_dir / "files")


def _form_context(today: date) -> dict:
    cfg = policy().evidence
    return {"kinds": HARDSHIP_KINDS, "incomes": INCOMES, "expenses": EXPENSE_CATEGORIES, "today": today,
            "max_mb": cfg.max_bytes // (1024 * 1024), "max_files": cfg.max_files}


def _uploads(files: list[UploadFile] | None) -> list[UploadFile]:
    return [f for f in files or () if f.filename]  # an empty file input still sends one nameless part


def _read(file: UploadFile) -> bytes:
    return file.file.read(policy().evidence.max_bytes + 1)  # never more than one byte past the limit


@router.get("/portal/loans/{loan_id}/hardship", response_class=HTMLResponse)
def hardship_form(loan_id: int, request: Request, session: SessionDep, today: Today) -> Response:
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    return render(request, FORM, me, loan=loan, values={"dependants": "0"}, errors={}, **_form_context(today))


@router.post("/portal/loans/{loan_id}/hardship", response_class=HTMLResponse)
async def file_hardship(loan_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                        files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    found = borrower_loan(request, session, loan_id)
    if isinstance(found, Response):
        return found
    me, loan = found
    form = await request.form()  # many fields: read whole (async only for this; the session works the same)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}

    def amounts(prefix: str, names: tuple[str, ...]) -> dict[str, int]:
        out = {}
        for name in names:
            key, text = f"{prefix}.{name}", values.get(f"{prefix}.{name}", "").strip()
            if not text:
                continue
            try:
                out[name] = yuan_to_fen(text)
            except MoneyError:
                errors[key] = "amount_format"
        return out

    incomes, expenses = amounts("incomes", INCOMES), amounts("expenses", EXPENSE_CATEGORIES)
    if not incomes and not any(k.startswith("incomes.") for k in errors):
        errors["incomes.wages"] = "income_required"
    kind = values.get("hardship_kind", "")
    if kind not in HARDSHIP_KINDS:
        errors["hardship_kind"] = "required"
    try:
        since = date.fromisoformat(values.get("hardship_since", "").strip())
    except ValueError:
        errors["hardship_since"] = "date_format"
    dependants_text = values.get("dependants", "0").strip() or "0"
    if not dependants_text.isdigit():
        errors["dependants"] = "whole_number"
    if values.get("consent") != "yes":
        errors["consent"] = "hardship.consent_required"
    description = values.get("description", "")
    if len(description) > 4000:
        errors["description"] = "too_long"
    uploads = _uploads(files)
    if len(uploads) > policy().evidence.max_files:
        errors["file"] = "hardship.max_files"
    if not errors:
        statement = Statement(incomes=incomes, expenses=expenses, dependants=int(dependants_text),
                              region_code=loan_region(session, loan))
        with attempt(session) as errors:
            app = hardship.file_application(session, cipher, me, loan_id=loan.id, statement=statement,
                                            hardship_kind=kind, hardship_since=since, description=description,
                                            consent=True, today=today)
            for upload in uploads:
                hardship.add_evidence(session, _store(request), cipher, me, application_id=app.id,
                                      data=_read(upload), filename=upload.filename or "")
        if not errors:
            return see_other(f"/portal/hardship/{app.id}")
    return render(request, FORM, me, status=400, loan=loan, values=values, errors=errors, **_form_context(today))


def loan_region(session, loan) -> str:
    """The borrower's region code on file, for the expense norms of where they live."""
    return session.get(Borrower, loan.borrower_id).region_code or ""


def _own_application(session, me, application_id: int) -> HardshipApplication | None:
    app = session.get(HardshipApplication, application_id)
    return app if app is not None and app.borrower_id == me.borrower_id else None


def _status_page(request: Request, session, me, app: HardshipApplication, errors: dict | None = None,
                 status: int = 200) -> Response:
    evidence = session.scalars(select(HardshipEvidence).where(HardshipEvidence.application_id == app.id)
                               .order_by(HardshipEvidence.id)).all()
    return render(request, "portal/hardship.html", me, status=status, app=app, evidence=evidence,
                  errors=errors or {}, max_mb=policy().evidence.max_bytes // (1024 * 1024))


@router.get("/portal/hardship/{application_id}", response_class=HTMLResponse)
def hardship_status(application_id: int, request: Request, session: SessionDep) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    app = _own_application(session, me, application_id)
    return not_found(request, me) if app is None else _status_page(request, session, me, app)


@router.post("/portal/hardship/{application_id}/evidence", response_class=HTMLResponse)
def add_evidence(application_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                 files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    me = borrower(request, session)
    if isinstance(me, Response):
        return me
    app = _own_application(session, me, application_id)
    if app is None:
        return not_found(request, me)
    uploads = _uploads(files)
    if not uploads:
        return _status_page(request, session, me, app, {"file": "required"}, 400)
    with attempt(session) as errors:
        for upload in uploads:
            hardship.add_evidence(session, _store(request), cipher, me, application_id=app.id,
                                  data=_read(upload), filename=upload.filename or "")
    if errors:
        return _status_page(request, session, me, app, errors, 400)
    return see_other(f"/portal/hardship/{app.id}")

