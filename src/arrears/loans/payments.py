"""Payment use cases: post (idempotent), reverse, and apply a held credit balance.

Each takes the caller's session and never commits. The loan row carries an optimistic-lock version;
every use case here bumps it before touching the instalments, so two writers working from the same
balances cannot both succeed: the second gets a 409 (rule ``loan.version``) and must reload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.service import append_event
from arrears.db.base import utcnow
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.model import Account, EntryKind, Leg, reversed_legs, settlement_legs
from arrears.ledger.service import post_entry, savepoint
from arrears.ledger.tables import JournalEntry, Posting
from arrears.loans.allocation import AllocationLine, allocate
from arrears.loans.model import InstalmentBalance
from arrears.loans.one_by_one import one_by_one
from arrears.loans.tables import Instalment, Loan, Payment, PaymentAllocation
from arrears.products.catalog import catalog
from arrears.products.model import COMPONENTS, Component

KEY_FIELD = "Idempotency-Key"


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    loan_id: int
    amount_fen: int
    received_on: date
    allocations: tuple[AllocationLine, ...]  # by instalment seq and component
    to_credit_fen: int
    status: str  # posted | reversed (a replay reports the payment as it stands now)
    replayed: bool = False


@dataclass(frozen=True)
class ReversalResult:
    payment_id: int
    loan_id: int
    entry_id: int
    restored: tuple[AllocationLine, ...]  # amounts put back as outstanding
    credit_reversed_fen: int
    credit_fen: int  # the loan's credit balance afterwards


@dataclass(frozen=True)
class CreditApplication:
    loan_id: int
    entry_id: int | None  # None when nothing was applied
    lines: tuple[AllocationLine, ...]
    applied_fen: int
    credit_fen: int  # what is still held


def request_digest(*, loan_id: int, amount_fen: int, received_on: date, channel: str,
                   external_ref: str | None) -> str:
    """sha256 of the canonical request body: what 'the same request' means for an idempotency key."""
    body = {"loan_id": loan_id, "amount_fen": amount_fen, "received_on": received_on.isoformat(),
            "channel": channel, "external_ref": external_ref}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@contextmanager
def _version_guard(loan: Loan) -> Iterator[None]:
    loan_no = loan.loan_no  # read now: after a failed flush the object cannot be loaded any more
    try:
        yield
    except StaleDataError:
        raise Conflict(f"loan {loan_no} was changed by someone else; reload and try again",
                       field="loan_id", rule="loan.version") from None


def _bump_version(session: Session, loan: Loan) -> None:
    """UPDATE the loan (even if unchanged) so its version check runs and its row is locked now."""
    flag_modified(loan, "credit_fen")
    session.flush()


def _loan(session: Session, loan_id: int, *, active: bool = True) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    if active and loan.status != "active":
        raise Conflict(f"loan {loan.loan_no} is {loan.status}, not active", field="loan_id", rule="loan.active")
    return loan


def _instalments(session: Session, loan_id: int) -> list[Instalment]:
    # populate_existing: decide on the rows as they are now, not as an earlier read cached them.
    return list(session.scalars(select(Instalment).where(Instalment.loan_id == loan_id)
                                .order_by(Instalment.due_on, Instalment.seq)
                                .execution_options(populate_existing=True)))


def instalment_balance(row: Instalment) -> InstalmentBalance:
    return InstalmentBalance(
        seq=row.seq, due_on=row.due_on,
        due={c: getattr(row, f"{c}_due_fen") for c in COMPONENTS},
        paid={c: getattr(row, f"{c}_paid_fen") for c in COMPONENTS},
        waived={c: getattr(row, f"{c}_waived_fen") for c in COMPONENTS})


def _add_paid(row: Instalment, component: Component | str, amount: int) -> None:
    column = f"{Component(component)}_paid_fen"
    setattr(row, column, getattr(row, column) + amount)


def _lines_json(lines: tuple[AllocationLine, ...]) -> list[dict]:
    return [{"seq": x.seq, "component": str(x.component), "amount_fen": x.amount_fen} for x in lines]


def _find_by_key(session: Session, key: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.idempotency_key == key))


def _stored_result(session: Session, payment: Payment, *, replayed: bool) -> PaymentResult:
    rows = session.execute(select(Instalment.seq, PaymentAllocation.component, PaymentAllocation.amount_fen)
                           .join(Instalment, Instalment.id == PaymentAllocation.instalment_id)
                           .where(PaymentAllocation.payment_id == payment.id)
                           .order_by(PaymentAllocation.id))
    lines = tuple(AllocationLine(seq, Component(c), a) for seq, c, a in rows)
    return PaymentResult(payment.id, payment.loan_id, payment.amount_fen, payment.received_on, lines,
                         payment.to_credit_fen, payment.status, replayed)


def _replay(session: Session, payment: Payment, digest: str) -> PaymentResult:
    if payment.request_digest != digest:
        raise Conflict(f"{KEY_FIELD} {payment.idempotency_key!r} was already used for a different payment "
                       f"request; use a new key for a new payment", field=KEY_FIELD, rule="idempotency.key_reused")
    return _stored_result(session, payment, replayed=True)


def _check_request(amount_fen: int, key: str, channel: str, external_ref: str | None) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput(f"amount must be integer fen, not {type(amount_fen).__name__}",
                           field="amount_fen", rule="amount.integer_fen")
    if amount_fen <= 0:
        raise InvalidInput(f"amount must be more than 0 fen, got {amount_fen}", field="amount_fen",
                           rule="amount.positive")
    if not key or not key.strip() or len(key) > 100:
        raise InvalidInput("an idempotency key of 1–100 characters is required", field=KEY_FIELD,
                           rule="idempotency.key_required")
    if not channel or len(channel) > 30:
        raise InvalidInput("channel must be 1–30 characters", field="channel", rule="channel.length")
    if external_ref is not None and len(external_ref) > 100:
        raise InvalidInput("external reference is longer than 100 characters", field="external_ref",
                           rule="external_ref.length")


def post_payment(session: Session, *, loan_id: int, amount_fen: int, received_on: date, idempotency_key: str,
                 channel: str = "bank_transfer", external_ref: str | None = None, actor: str,
                 today: date) -> PaymentResult:
    """Allocates a received payment by the product's waterfall (as of ``received_on``, the value date);
    the entry is booked on ``today`` (the posting date) and any surplus is held as credit."""
    _check_request(amount_fen, idempotency_key, channel, external_ref)
    digest = request_digest(loan_id=loan_id, amount_fen=amount_fen, received_on=received_on,
                            channel=channel, external_ref=external_ref)
    # A replay is answered before the loan checks: the loan may have changed since (even be settled).
    existing = _find_by_key(session, idempotency_key)
    if existing is not None:
        return _replay(session, existing, digest)
    loan = _loan(session, loan_id)
    if received_on < loan.disbursed_on:
        raise InvalidInput(f"received on {received_on}, before the loan was disbursed on {loan.disbursed_on}",
                           field="received_on", rule="received_on.not_before_disbursement")
    if received_on > today:
        raise InvalidInput(f"received on {received_on}, after today ({today})", field="received_on",
                           rule="received_on.not_in_future")

    payment = Payment(loan_id=loan.id, borrower_id=loan.borrower_id, idempotency_key=idempotency_key,
                      request_digest=digest, amount_fen=amount_fen, received_on=received_on, channel=channel,
                      external_ref=external_ref, to_credit_fen=0, status="posted")
    try:
        with savepoint(session):
            session.add(payment)
            session.flush()
    except IntegrityError:
        # Another request with the same key got in between our lookup and our insert.
        existing = _find_by_key(session, idempotency_key)
        if existing is None:
            raise
        return _replay(session, existing, digest)

    with _version_guard(loan):
        rows = _instalments(session, loan.id)
        rule = catalog().product(loan.product_code).allocation
        allocation = allocate(amount_fen, [instalment_balance(r) for r in rows], rule, on=received_on)
        credit_before = loan.credit_fen
        loan.credit_fen = credit_before + allocation.unallocated_fen
        _bump_version(session, loan)
        by_seq = {r.seq: r for r in rows}
        for line in allocation.lines:
            row = by_seq[line.seq]
            _add_paid(row, line.component, line.amount_fen)
            session.add(PaymentAllocation(source="payment", payment_id=payment.id, loan_id=loan.id,
                                          instalment_id=row.id, component=str(line.component),
                                          amount_fen=line.amount_fen, value_date=received_on,
                                          one_by_one=one_by_one(received_on, row.due_on, loan.disbursed_on,
                                                                line.component)))
        payment.to_credit_fen = allocation.unallocated_fen
        post_entry(session, loan=loan, kind=EntryKind.payment, business_date=today,
                   legs=settlement_legs(Account.cash_clearing, allocation.by_component(),
                                        allocation.unallocated_fen),
                   payment_id=payment.id, memo=f"payment {idempotency_key}"[:200])
        append_event(session, actor=actor, action="payment.posted", subject_type="loan", subject_id=loan.id,
                     borrower_id=loan.borrower_id, before={"credit_fen": credit_before},
                     after={"payment_id": payment.id, "amount_fen": amount_fen,
                            "received_on": received_on.isoformat(), "channel": channel,
                            "allocations": _lines_json(allocation.lines),
                            "to_credit_fen": allocation.unallocated_fen, "credit_fen": loan.credit_fen})
        session.flush()
    return PaymentResult(payment.id, loan.id, amount_fen, received_on, allocation.lines,
                         allocation.unallocated_fen, payment.status, replayed=False)


def reverse_payment(session: Session, *, payment_id: int, reason: str, actor: str,
                    today: date) -> ReversalResult:
    """Undoes exactly one payment: its allocations, its credit and its ledger entry (by a mirror entry)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reversal needs a reason", field="reason", rule="reason.required")
    if len(reason) > 200:
        raise InvalidInput("reason is longer than 200 characters", field="reason", rule="reason.length")
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}", field="payment_id", rule="payment.exists")
    if payment.status == "reversed":
        raise Conflict(f"payment {payment_id} is already reversed", field="payment_id",
                       rule="payment.already_reversed")
    loan = _loan(session, payment.loan_id, active=False)
    if payment.to_credit_fen > loan.credit_fen:
        raise Conflict(f"payment {payment_id} put {payment.to_credit_fen} fen to credit but only "
                       f"{loan.credit_fen} fen is still held (the rest was applied); reverse that first",
                       field="payment_id", rule="reversal.credit_spent")
    original = session.scalar(select(JournalEntry).where(JournalEntry.payment_id == payment.id,
                                                         JournalEntry.kind == str(EntryKind.payment)))
    if original is None:
        raise Conflict(f"payment {payment_id} has no ledger entry to reverse", field="payment_id",
                       rule="ledger.entry_missing")
    legs = [Leg(Account(p.account), p.debit_fen, p.credit_fen)
            for p in session.scalars(select(Posting).where(Posting.entry_id == original.id).order_by(Posting.id))]
    allocations = session.execute(select(PaymentAllocation, Instalment)
                                  .join(Instalment, Instalment.id == PaymentAllocation.instalment_id)
                                  .where(PaymentAllocation.payment_id == payment.id)
                                  .order_by(PaymentAllocation.id)).all()

    with _version_guard(loan):
        credit_before = loan.credit_fen
        loan.credit_fen = credit_before - payment.to_credit_fen
        _bump_version(session, loan)
        for alloc, row in allocations:
            _add_paid(row, alloc.component, -alloc.amount_fen)
        restored = tuple(AllocationLine(row.seq, Component(a.component), a.amount_fen) for a, row in allocations)
        payment.status = "reversed"
        payment.reversal_reason = reason
        payment.reversed_at = utcnow()
        entry = post_entry(session, loan=loan, kind=EntryKind.reversal, business_date=today,
                           legs=reversed_legs(legs), payment_id=payment.id, reverses_entry_id=original.id,
                           memo=f"reversal of payment {payment.id}")
        append_event(session, actor=actor, action="payment.reversed", subject_type="loan", subject_id=loan.id,
                     borrower_id=loan.borrower_id, reason=reason,
                     before={"payment_id": payment.id, "status": "posted", "credit_fen": credit_before},
                     after={"payment_id": payment.id, "status": "reversed", "restored": _lines_json(restored),
                            "credit_reversed_fen": payment.to_credit_fen, "credit_fen": loan.credit_fen})
        session.flush()
    return ReversalResult(payment.id, loan.id, entry.id, restored, payment.to_credit_fen, loan.credit_fen)


def apply_credit(session: Session, *, loan_id: int, on: date, actor: str) -> CreditApplication:
    """Uses a held credit balance on instalments already due by ``on`` (same waterfall, no prepaying)."""
    loan = _loan(session, loan_id)
    if loan.credit_fen <= 0:
        return CreditApplication(loan.id, None, (), 0, loan.credit_fen)
    rows = _instalments(session, loan.id)
    rule = catalog().product(loan.product_code).allocation
    allocation = allocate(loan.credit_fen, [instalment_balance(r) for r in rows], rule, on=on, include_current=False)
    if not allocation.lines:
        return CreditApplication(loan.id, None, (), 0, loan.credit_fen)

    with _version_guard(loan):
        credit_before = loan.credit_fen
        loan.credit_fen = allocation.unallocated_fen
        _bump_version(session, loan)
        by_seq = {r.seq: r for r in rows}
        for line in allocation.lines:
            _add_paid(by_seq[line.seq], line.component, line.amount_fen)
        entry = post_entry(session, loan=loan, kind=EntryKind.credit_applied, business_date=on,
                           legs=settlement_legs(Account.borrower_credit, allocation.by_component()),
                           memo="credit balance applied")
        for line in allocation.lines:
            session.add(PaymentAllocation(source="credit", entry_id=entry.id, loan_id=loan.id,
                                          instalment_id=by_seq[line.seq].id, component=str(line.component),
                                          amount_fen=line.amount_fen, value_date=on,
                                          one_by_one=one_by_one(on, by_seq[line.seq].due_on, loan.disbursed_on,
                                                                line.component)))
        append_event(session, actor=actor, action="credit.applied", subject_type="loan", subject_id=loan.id,
                     borrower_id=loan.borrower_id, before={"credit_fen": credit_before},
                     after={"entry_id": entry.id, "lines": _lines_json(allocation.lines),
                            "applied_fen": allocation.allocated_fen, "credit_fen": loan.credit_fen})
        session.flush()
    return CreditApplication(loan.id, entry.id, allocation.lines, allocation.allocated_fen, loan.credit_fen)
