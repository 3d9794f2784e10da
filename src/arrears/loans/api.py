"""Loan book routes: borrowers, loans, payments and their reversal, and the product catalogue.

Thin: each route checks visibility, calls one service and shapes the answer. A borrower account
sees only its own records; asking for anyone else's gets 404, so existence is not revealed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.errors import NotFound
from arrears.loans import payments
from arrears.loans.schemas import (
    BorrowerOut,
    LoanDetail,
    LoanPage,
    PaymentIn,
    PaymentOut,
    ReversalOut,
    ReverseIn,
    borrower_out,
    loan_detail,
    loan_summary,
    payment_out,
    reversal_out,
)
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.products.catalog import catalog
from arrears.products.model import COMPONENTS, Product
from arrears.web.deps import CipherDep, SessionDep, Today, require

router = APIRouter(prefix="/api/v1", tags=["loans"])


def _visible_loan(session: Session, principal: Principal, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None or not principal.may_see(loan.borrower_id):
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    return loan


def _outstanding_expr():
    return sum(getattr(Instalment, f"{c.value}_due_fen") - getattr(Instalment, f"{c.value}_paid_fen")
               - getattr(Instalment, f"{c.value}_waived_fen") for c in COMPONENTS)


@router.get("/borrowers/{borrower_id}", response_model=BorrowerOut)
def get_borrower(borrower_id: int, session: SessionDep, cipher: CipherDep,
                 principal: Annotated[Principal, Depends(require(P.borrowers_read))]) -> BorrowerOut:
    borrower = session.get(Borrower, borrower_id)
    if borrower is None or not principal.may_see(borrower.id):
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id", rule="borrower.exists")
    return borrower_out(borrower, cipher, unmasked=principal.sees_pii_of(borrower.id))


@router.get("/loans", response_model=LoanPage)
def list_loans(session: SessionDep, principal: Annotated[Principal, Depends(require(P.loans_read))],
               limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
               product: str | None = None, status: str | None = None,
               borrower_no: str | None = None) -> LoanPage:
    stmt = select(Loan, Borrower.borrower_no).join(Borrower, Borrower.id == Loan.borrower_id)
    if principal.self_scoped:
        stmt = stmt.where(Loan.borrower_id == principal.borrower_id)
    if product:
        stmt = stmt.where(Loan.product_code == product)
    if status:
        stmt = stmt.where(Loan.status == status)
    if borrower_no:
        stmt = stmt.where(Borrower.borrower_no == borrower_no)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(stmt.order_by(Loan.id).limit(limit).offset(offset)).all()
    ids = [loan.id for loan, _ in rows]
    outstanding: dict[int, int] = dict(session.execute(
        select(Instalment.loan_id, func.sum(_outstanding_expr())).where(Instalment.loan_id.in_(ids))
        .group_by(Instalment.loan_id)).all()) if ids else {}
    items = [loan_summary(loan, no, int(outstanding.get(loan.id) or 0)) for loan, no in rows]
    more = offset + len(items) < total
    return LoanPage(items=items, total=total, limit=limit, offset=offset,
                    next_offset=offset + len(items) if more else None)


@router.get("/loans/{loan_id}", response_model=LoanDetail)
def get_loan(loan_id: int, session: SessionDep, today: Today,
             principal: Annotated[Principal, Depends(require(P.loans_read))]) -> LoanDetail:
    loan = _visible_loan(session, principal, loan_id)
    borrower_no = session.scalar(select(Borrower.borrower_no).where(Borrower.id == loan.borrower_id))
    instalments = session.scalars(select(Instalment).where(Instalment.loan_id == loan.id)).all()
    return loan_detail(loan, borrower_no or "", instalments, today)


@router.post("/loans/{loan_id}/payments", response_model=PaymentOut, status_code=201,
             responses={200: {"description": "A replay of an earlier request with the same "
                                             "Idempotency-Key and body: the original result"}})
def post_payment(loan_id: int, body: PaymentIn, response: Response, session: SessionDep, today: Today,
                 idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1,
                                                        max_length=100)],
                 principal: Annotated[Principal, Depends(require(P.payments_write))]) -> PaymentOut:
    _visible_loan(session, principal, loan_id)
    result = payments.post_payment(
        session, loan_id=loan_id, amount_fen=body.amount, received_on=body.received_on,
        idempotency_key=idempotency_key, channel=body.channel, external_ref=body.external_ref,
        actor=principal.actor, today=today)
    if result.replayed:  # same body as the first answer; the status and a header say it is a replay
        response.status_code = 200
        response.headers["Idempotency-Replayed"] = "true"
    return payment_out(result)


@router.post("/payments/{payment_id}/reverse", response_model=ReversalOut)
def reverse_payment(payment_id: int, body: ReverseIn, session: SessionDep, today: Today,
                    principal: Annotated[Principal, Depends(require(P.payments_reverse))]) -> ReversalOut:
    result = payments.reverse_payment(session, payment_id=payment_id, reason=body.reason,
                                      actor=principal.actor, today=today)
    return reversal_out(result, body.reason.strip())


# The catalogue is read-only policy data; its route lives here until products has an API module.
@router.get("/products", response_model=list[Product], tags=["products"])
def list_products(principal: Annotated[Principal, Depends(require(P.products_read))]) -> list[Product]:
    return [catalog().products[code] for code in sorted(catalog().products)]
