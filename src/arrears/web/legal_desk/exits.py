"""Bad-debt exits (``writeoff:propose`` / ``writeoff:approve``, ``transfer:manage``): write-off batches with the
checker's decision (the service refuses the maker: the refusal is shown), transfer packages and their sale. The
pages call ``writeoff.service`` and ``writeoff.transfer``, the functions the API calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.model import Permission, Principal
from arrears.delinquency.snapshots import SnapshotStore
from arrears.errors import NotFound, Problem
from arrears.loans.tables import Loan
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.legal_desk.common import Form as Fields
from arrears.web.render import PAGE_SIZE, render, staff_gate
from arrears.writeoff.service import decide_write_off, propose_write_off
from arrears.writeoff.tables import ExitItem, TransferPackage, WriteOffBatch
from arrears.writeoff.transfer import build_package, sell_package

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
EXIT_PERMISSIONS = (Permission.writeoff_propose, Permission.writeoff_approve, Permission.transfer_manage)


def _gate_any(request: Request, session: Session) -> tuple[Principal | None, Response | None]:
    """The exits overview is for anyone with one of the exit permissions."""
    me, refused = staff_gate(request, session, Permission.account_self)
    if refused or any(me.can(p) for p in EXIT_PERMISSIONS):
        return me, refused
    return me, render(request, "forbidden.html", me, status=403)


def _overview(request: Request, session: Session, me: Principal, form: Fields | None = None,
              status: int = 200) -> Response:
    batches = session.scalars(select(WriteOffBatch).order_by(WriteOffBatch.id.desc()).limit(PAGE_SIZE)).all()
    packages = session.scalars(select(TransferPackage).order_by(TransferPackage.id.desc()).limit(PAGE_SIZE)).all() \
        if me.can(Permission.transfer_manage) else []
    return render(request, "legal_desk/exits.html", me, status=status, batches=batches, packages=packages,
                  form=form)


@router.get("/writeoffs", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep) -> Response:
    me, refused = _gate_any(request, session)
    return refused or _overview(request, session, me)


def _items(session: Session, kind: str, batch_id: int, page: int) -> list:
    """One page of a batch's loans (a batch may hold many)."""
    return session.execute(select(ExitItem, Loan.loan_no).join(Loan, Loan.id == ExitItem.loan_id)
                           .where(ExitItem.batch_kind == kind, ExitItem.batch_id == batch_id)
                           .order_by(ExitItem.id).limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE)).all()


def _batch_page(request: Request, session: Session, me: Principal, batch_id: int, page: int = 1,
                form: Fields | None = None, status: int = 200) -> Response:
    batch = session.get(WriteOffBatch, batch_id)
    if batch is None:
        return render(request, "not_found.html", me, status=404)
    return render(request, "legal_desk/writeoff.html", me, status=status, batch=batch, form=form, page=max(page, 1),
                  items=_items(session, "writeoff", batch_id, page), pages=max(1, -(-batch.loans // PAGE_SIZE)))


@router.get("/writeoffs/{batch_id}", response_class=HTMLResponse)
def batch_page(batch_id: int, request: Request, session: SessionDep, page: int = 1) -> Response:
    me, refused = _gate_any(request, session)
    if refused:
        return refused
    if not (me.can(Permission.writeoff_approve) or me.can(Permission.writeoff_propose)):
        return render(request, "forbidden.html", me, status=403)
    return _batch_page(request, session, me, batch_id, page)


@router.post("/writeoffs", response_class=HTMLResponse)
def propose(request: Request, session: SessionDep, today: Today) -> Response:
    me, refused = staff_gate(request, session, Permission.writeoff_propose)
    if refused:
        return refused
    form = Fields("propose", {})
    try:
        batch = propose_write_off(session, principal=me, today=today)
    except Problem as exc:
        session.rollback()
        return _overview(request, session, me, form, form.refused_by(exc))
    return RedirectResponse(f"/writeoffs/{batch.id}", status_code=303)


@router.post("/writeoffs/{batch_id}/decision", response_class=HTMLResponse)
def decide(batch_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
           version: Text = "", decision: Text = "", reason: Text = "") -> Response:
    me, refused = staff_gate(request, session, Permission.writeoff_approve)
    if refused:
        return refused
    form = Fields("decision", {"version": version, "decision": decision, "reason": reason})
    form.choice("decision", ("approve", "reject"))
    form.text("reason", 500, required=decision == "reject")
    if not form.ok:
        return _batch_page(request, session, me, batch_id, form=form, status=422)
    try:
        decide_write_off(session, batch_id=batch_id, approve=decision == "approve", principal=me, today=today,
                         expected_version=form.version(), cipher=cipher, reason=form.values["reason"].strip())
    except NotFound:
        session.rollback()
        return render(request, "not_found.html", me, status=404)
    except Problem as exc:
        session.rollback()
        return _batch_page(request, session, me, batch_id, form=form, status=form.refused_by(exc))
    return RedirectResponse(f"/writeoffs/{batch_id}", status_code=303)


def _package_page(request: Request, session: Session, me: Principal, package_id: int, page: int = 1,
                  form: Fields | None = None, status: int = 200) -> Response:
    package = session.get(TransferPackage, package_id)
    if package is None:
        return render(request, "not_found.html", me, status=404)
    return render(request, "legal_desk/transfer.html", me, status=status, package=package, form=form,
                  page=max(page, 1), items=_items(session, "transfer", package_id, page),
                  pages=max(1, -(-package.loans // PAGE_SIZE)))


@router.get("/transfers/{package_id}", response_class=HTMLResponse)
def package_page(package_id: int, request: Request, session: SessionDep, page: int = 1) -> Response:
    me, refused = staff_gate(request, session, Permission.transfer_manage)
    return refused or _package_page(request, session, me, package_id, page)


@router.post("/transfers", response_class=HTMLResponse)
def build(request: Request, session: SessionDep, today: Today, code: Text = "", loans: Text = "") -> Response:
    """A draft package: the loan numbers given (space or comma separated), else what the transfer rules select."""
    me, refused = staff_gate(request, session, Permission.transfer_manage)
    if refused:
        return refused
    form = Fields("package", {"code": code, "loans": loans})
    form.text("code", 40)
    numbers = [n for n in loans.replace(",", " ").split() if n]
    ids = dict(session.execute(select(Loan.loan_no, Loan.id).where(Loan.loan_no.in_(numbers))).all()) \
        if numbers else {}
    if len(ids) != len(set(numbers)):
        form.refuse("loans", "loan_unknown")
    if not form.ok:
        return _overview(request, session, me, form, 422)
    try:
        package = build_package(session, code=code.strip(), principal=me, today=today,
                                store=SnapshotStore(request.app.state.settings.data_dir / "snapshots"),
                                loan_ids=[ids[n] for n in dict.fromkeys(numbers)] if numbers else None)
    except Problem as exc:
        session.rollback()
        return _overview(request, session, me, form, form.refused_by(exc, {"loan_ids": "loans"}))
    return RedirectResponse(f"/transfers/{package.id}", status_code=303)


@router.post("/transfers/{package_id}/sale", response_class=HTMLResponse)
def sell(package_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
         version: Text = "", buyer: Text = "", price: Text = "") -> Response:
    me, refused = staff_gate(request, session, Permission.transfer_manage)
    if refused:
        return refused
    form = Fields("sale", {"version": version, "buyer": buyer, "price": price})
    name, price_fen = form.text("buyer", 200), form.amount("price", positive=False)
    if not form.ok:
        return _package_page(request, session, me, package_id, form=form, status=422)
    try:
        sell_package(session, package_id=package_id, buyer=name, price_fen=price_fen, principal=me, today=today,
                     expected_version=form.version(), cipher=cipher)
    except NotFound:
        session.rollback()
        return render(request, "not_found.html", me, status=404)
    except Problem as exc:
        session.rollback()
        return _package_page(request, session, me, package_id, form=form,
                             status=form.refused_by(exc, {"price_fen": "price"}))
    return RedirectResponse(f"/transfers/{package_id}", status_code=303)
