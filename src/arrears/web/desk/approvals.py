"""/approvals: offers waiting for a checker with enough authority (approve or decline; no one approves their
own offer) and agreements the borrower has signed, waiting for the countersignature (maker-checker), each list
paged on its own (``offers_page``, ``agreements_page``; oldest first, count bounded). Each form carries the row's
version: a stale one is refused with a message and nothing changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.agreements import documents
from arrears.agreements import service as agreements
from arrears.agreements.tables import Agreement
from arrears.auth.model import Permission, Principal
from arrears.db.base import utcnow
from arrears.db.versioned import load_versioned
from arrears.errors import Problem
from arrears.loans.schemas import borrower_out
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation import rounds
from arrears.negotiation.config import policy
from arrears.negotiation.tables import Offer
from arrears.privacy import PersonalDataCipher
from arrears.web.deps import CipherDep, SessionDep, Today
from arrears.web.desk.common import failed, staff
from arrears.web.render import COUNT_CAP, PAGE_SIZE, bounded_count, render

router = APIRouter(include_in_schema=False)
WHO = (Permission.negotiations_approve, Permission.agreements_countersign, Permission.queues_supervise)


def _authority(offer: Offer) -> dict:
    """The figures the approval limits are about (``limits.within``), from the offer's stored plan."""
    plan = offer.plan
    debt = sum(plan["debt"].values())
    periods = len(plan["schedule"]) + int((plan.get("params") or {}).get("holiday_months", 0))
    return {"waived": offer.waived_fen, "debt": debt, "periods": periods,
            "principal_cut": plan["waiver"].get("principal", 0), "kind": plan["kind"],
            "share": Decimal(offer.waived_fen) / debt if debt else Decimal(0)}


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


def _paged(session: Session, stmt, key, page: int) -> dict:
    """One page of a list, oldest first (the longest waiting on top), with its bounded count."""
    total = bounded_count(session, stmt.with_only_columns(key))
    pages = max(1, -(-min(total, COUNT_CAP) // PAGE_SIZE))
    page = min(page, pages)
    rows = session.execute(stmt.order_by(key).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return {"rows": rows, "total": total, "capped": total > COUNT_CAP, "page": page, "pages": pages}


def _view(session: Session, cipher: PersonalDataCipher, me: Principal, offers_page: int = 1,
          agreements_page: int = 1, **extra) -> dict:
    now = utcnow()
    offers = _paged(session, select(Offer, Loan.loan_no, Borrower).join(Loan, Loan.id == Offer.loan_id)
                    .join(Borrower, Borrower.id == Offer.borrower_id)
                    .where(Offer.status == "pending_approval", Offer.expires_at > now), Offer.id, offers_page)
    signed = _paged(session, select(Agreement, Loan.loan_no, Borrower).join(Loan, Loan.id == Agreement.loan_id)
                    .join(Borrower, Borrower.id == Agreement.borrower_id)
                    .where(Agreement.status == "borrower_signed"), Agreement.id, agreements_page)
    approval = policy().approval

    def who(b: Borrower):
        return borrower_out(b, cipher, unmasked=me.sees_pii_of(b.id))

    return {"offers": [(o, no, who(b), _authority(o)) for o, no, b in offers["rows"]],
            "agreements": [(a, no, who(b)) for a, no, b in signed["rows"]], "number": agreements.number,
            "offers_at": {**offers, "rows": None}, "agreements_at": {**signed, "rows": None}, "cap": COUNT_CAP,
            "approval": approval, "my_authority": approval.authority_of(me.role.value),
            "may": {"approve": me.can(Permission.negotiations_approve),
                    "countersign": me.can(Permission.agreements_countersign)}, **extra}


@router.get("/approvals", response_class=HTMLResponse)
def approvals(request: Request, session: SessionDep, cipher: CipherDep, done: str = "", offers_page: str = "1",
              agreements_page: str = "1") -> Response:
    me = staff(request, session, *WHO)
    if isinstance(me, Response):
        return me
    return render(request, "desk/approvals.html", me,
                  **_view(session, cipher, me, _page_number(offers_page), _page_number(agreements_page), done=done))


@router.post("/approvals/offers/{offer_id}", response_class=HTMLResponse)
def review_offer(offer_id: int, request: Request, session: SessionDep, cipher: CipherDep,
                 action: Annotated[str, Form()] = "", version: Annotated[int, Form()] = 0) -> Response:
    me = staff(request, session, Permission.negotiations_approve)
    if isinstance(me, Response):
        return me
    try:
        rounds.get_offer(session, me, offer_id)
        load_versioned(session, Offer, offer_id, version, "offer")
        rounds.review_offer(session, me, offer_id, approve=action == "approve")
    except Problem as exc:
        error = failed(session, exc)
        return render(request, "desk/approvals.html", me, status=exc.status,
                      **_view(session, cipher, me, error={**error, "offer_id": offer_id}))
    return RedirectResponse(f"/approvals?done={'approved' if action == 'approve' else 'declined'}", status_code=303)


@router.post("/approvals/agreements/{agreement_id}", response_class=HTMLResponse)
def countersign(agreement_id: int, request: Request, session: SessionDep, cipher: CipherDep, today: Today,
                version: Annotated[int, Form()] = 0) -> Response:
    me = staff(request, session, Permission.agreements_countersign)
    if isinstance(me, Response):
        return me
    try:
        agreements.countersign(session, agreement_id=agreement_id, officer=me.actor, business_date=today,
                               expected_version=version)
    except Problem as exc:
        error = failed(session, exc)
        return render(request, "desk/approvals.html", me, status=exc.status,
                      **_view(session, cipher, me, error={**error, "agreement_id": agreement_id}))
    return RedirectResponse("/approvals?done=countersigned", status_code=303)


@router.get("/approvals/agreements/{agreement_id}.pdf")
def agreement_pdf(agreement_id: int, request: Request, session: SessionDep) -> Response:
    me = staff(request, session, *WHO)
    if isinstance(me, Response):
        return me
    a = session.get(Agreement, agreement_id)
    if a is None:
        return render(request, "not_found.html", me, status=404)
    return Response(documents.get(session, a.document_sha256), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{agreements.number(a)}.pdf"'})
