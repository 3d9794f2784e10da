"""Write-off (核销) and debt transfer (债权转让) over HTTP: propose a batch by the configured rules, decide it
(maker-checker: the service refuses the proposer), build a transfer package and record its sale. The
services check the permissions again; the routes declare them for the 403 probe and the docs."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.delinquency.snapshots import SnapshotStore
from arrears.errors import InvalidInput, NotFound
from arrears.money import MoneyError, yuan_to_fen
from arrears.web.deps import CipherDep, SessionDep, Today, require
from arrears.writeoff.service import batch_items, decide_write_off, propose_write_off, record_recovery
from arrears.writeoff.tables import ExitItem, LoanExit, TransferPackage, WriteOffBatch
from arrears.writeoff.transfer import build_package, sell_package

router = APIRouter(prefix="/api/v1", tags=["write-off"])


class ItemOut(BaseModel):
    loan_id: int
    dpd: int
    bucket: str
    classification: str
    balance_fen: int
    expected_recovery_fen: int
    price_fen: int | None


class BatchOut(BaseModel):
    id: int
    status: str
    rules: dict
    proposed_by: str
    proposed_on: date
    decided_by: str | None
    decided_on: date | None
    loans: int
    amount_fen: int
    version: int
    items: list[ItemOut]


class DecisionIn(BaseModel):
    approve: bool
    expected_version: int | None = None  # default: the version now (no stale check)
    reason: str = Field(default="", max_length=500)


class PackageIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    loan_ids: list[int] | None = None  # default: every loan the configured transfer rules select


class PackageOut(BaseModel):
    id: int
    code: str
    status: str
    rules: dict
    created_by: str
    created_on: date
    loans: int
    balance_fen: int
    expected_recovery_fen: int
    buyer: str | None
    price_fen: int | None
    sold_on: date | None
    version: int
    items: list[ItemOut]


class SaleIn(BaseModel):
    buyer: str = Field(min_length=1, max_length=200)
    price: str = Field(description="yuan as text, at most two decimals, e.g. \"12345.67\"")
    expected_version: int | None = None


def _items(items: list[ExitItem]) -> list[ItemOut]:
    return [ItemOut(loan_id=i.loan_id, dpd=i.dpd, bucket=i.bucket, classification=i.classification,
                    balance_fen=i.balance_fen, expected_recovery_fen=i.expected_recovery_fen, price_fen=i.price_fen)
            for i in items]


def _batch_out(session, batch: WriteOffBatch) -> BatchOut:  # noqa: ANN001
    return BatchOut(id=batch.id, status=batch.status, rules=batch.rules, proposed_by=batch.proposed_by,
                    proposed_on=batch.proposed_on, decided_by=batch.decided_by, decided_on=batch.decided_on,
                    loans=batch.loans, amount_fen=batch.amount_fen, version=batch.version,
                    items=_items(batch_items(session, batch.id)))


def _package_out(session, p: TransferPackage) -> PackageOut:  # noqa: ANN001
    return PackageOut(id=p.id, code=p.code, status=p.status, rules=p.rules, created_by=p.created_by,
                      created_on=p.created_on, loans=p.loans, balance_fen=p.balance_fen,
                      expected_recovery_fen=p.expected_recovery_fen, buyer=p.buyer, price_fen=p.price_fen,
                      sold_on=p.sold_on, version=p.version, items=_items(batch_items(session, p.id, "transfer")))


def _price_fen(text: str, field: str = "price") -> int:
    """An amount in yuan as text through the money parser (never a float), not negative."""
    try:
        amount = yuan_to_fen(text)
    except MoneyError as exc:
        raise InvalidInput(str(exc), field=field, rule="amount.yuan_format") from None
    if amount < 0:
        raise InvalidInput("must be ≥ 0 yuan", field=field, rule="amount.non_negative")
    return amount


def _found(session, model, key: int, field: str, what: str, rule: str):  # noqa: ANN001, ANN202
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key}", field=field, rule=rule)
    return row


def _store(request: Request) -> SnapshotStore:
    return SnapshotStore(request.app.state.settings.data_dir / "snapshots")


@router.post("/writeoffs", response_model=BatchOut, status_code=201)
def propose(session: SessionDep, today: Today,
            principal: Annotated[Principal, Depends(require(P.writeoff_propose))]) -> BatchOut:
    return _batch_out(session, propose_write_off(session, principal=principal, today=today))


@router.get("/writeoffs/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: int, session: SessionDep,
              principal: Annotated[Principal, Depends(require(P.writeoff_approve))]) -> BatchOut:
    # The checker reviews the batch before deciding; the maker already got it in the 201 answer.
    return _batch_out(session, _found(session, WriteOffBatch, batch_id, "batch_id", "write-off batch",
                                      "writeoff.batch_exists"))


@router.post("/writeoffs/{batch_id}/decision", response_model=BatchOut)
def decide(batch_id: int, body: DecisionIn, session: SessionDep, cipher: CipherDep, today: Today,
           principal: Annotated[Principal, Depends(require(P.writeoff_approve))]) -> BatchOut:
    version = body.expected_version
    if version is None:
        version = _found(session, WriteOffBatch, batch_id, "batch_id", "write-off batch",
                         "writeoff.batch_exists").version
    batch = decide_write_off(session, batch_id=batch_id, approve=body.approve, principal=principal, today=today,
                             expected_version=version, cipher=cipher, reason=body.reason)
    return _batch_out(session, batch)


@router.post("/transfers", response_model=PackageOut, status_code=201)
def create_package(body: PackageIn, request: Request, session: SessionDep, today: Today,
                   principal: Annotated[Principal, Depends(require(P.transfer_manage))]) -> PackageOut:
    package = build_package(session, code=body.code, principal=principal, today=today, store=_store(request),
                            loan_ids=body.loan_ids)
    return _package_out(session, package)


@router.get("/transfers/{package_id}", response_model=PackageOut)
def get_package(package_id: int, session: SessionDep,
                principal: Annotated[Principal, Depends(require(P.transfer_manage))]) -> PackageOut:
    return _package_out(session, _found(session, TransferPackage, package_id, "package_id", "transfer package",
                                        "transfer.package_exists"))


@router.post("/transfers/{package_id}/sale", response_model=PackageOut)
def sell(package_id: int, body: SaleIn, session: SessionDep, cipher: CipherDep, today: Today,
         principal: Annotated[Principal, Depends(require(P.transfer_manage))]) -> PackageOut:
    price_fen = _price_fen(body.price)
    version = body.expected_version
    if version is None:
        version = _found(session, TransferPackage, package_id, "package_id", "transfer package",
                         "transfer.package_exists").version
    package = sell_package(session, package_id=package_id, buyer=body.buyer, price_fen=price_fen,
                           principal=principal, today=today, expected_version=version, cipher=cipher)
    return _package_out(session, package)


class RecoveryIn(BaseModel):
    amount: str = Field(description="Yuan as text, e.g. \"1200.50\" (never a float).", examples=["1200.50"])
    received_on: date
    idempotency_key: str = Field(min_length=1, max_length=100)


class RecoveryOut(BaseModel):
    id: int
    loan_id: int
    amount_fen: int
    received_on: date
    written_off_fen: int
    recovered_fen: int


@router.post("/writeoffs/recoveries/{loan_id}", response_model=RecoveryOut, status_code=201)
def recovery(loan_id: int, body: RecoveryIn, session: SessionDep, today: Today,
             principal: Annotated[Principal, Depends(require(P.payments_write))]) -> RecoveryOut:
    """Money received on a written-off loan (idempotent on its key: the same request again answers the same)."""
    amount_fen = _price_fen(body.amount, "amount")
    r = record_recovery(session, loan_id=loan_id, amount_fen=amount_fen, received_on=body.received_on,
                        idempotency_key=body.idempotency_key, actor=principal.actor, today=today)
    gone = session.get(LoanExit, loan_id)
    return RecoveryOut(id=r.id, loan_id=r.loan_id, amount_fen=r.amount_fen, received_on=r.received_on,
                       written_off_fen=gone.amount_fen, recovered_fen=gone.recovered_fen)
