"""Posting journal entries, booking loans, and proving the ledger against the instalments.

Services take the caller's session and never commit. Checks over the whole book are SQL aggregates
that return only the rows that disagree, so they stay fast at 100,000+ loans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from arrears.audit.service import append_event
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.ledger.model import RECEIVABLE, Account, EntryKind, Leg, charge_legs, is_balanced
from arrears.ledger.tables import JournalEntry, Posting
from arrears.loans.model import ScheduledInstalment
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.products.catalog import PolicyError, catalog
from arrears.products.model import COMPONENTS, Component

BALANCE_ACCOUNTS: tuple[Account, ...] = (*RECEIVABLE.values(), Account.borrower_credit)
ID_CHUNK = 10_000


@contextmanager
def savepoint(session: Session) -> Iterator[SessionTransaction]:
    """``session.begin_nested()`` that is also safe on pysqlite.

    pysqlite opens its transaction lazily, so a SAVEPOINT sent first becomes the outermost
    transaction and its RELEASE commits: the caller's later rollback would not undo it. Opening
    the transaction first keeps the savepoint nested. (Lazy BEGIN itself is kept: a read outside a
    transaction sees the latest commit, so version checks catch concurrent writers as 409s.)
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN")
    with session.begin_nested() as nested:
        yield nested


def post_entry(session: Session, *, loan: Loan, kind: EntryKind, business_date: date, legs: list[Leg],
               payment_id: int | None = None, reverses_entry_id: int | None = None,
               memo: str = "") -> JournalEntry:
    """Writes one entry with its postings; refuses an empty entry, a leg not exactly one-sided, or imbalance."""
    if not legs:
        raise InvalidInput(f"{kind} entry for loan {loan.loan_no} has no postings",
                           field="legs", rule="ledger.balanced")
    for leg in legs:
        if leg.debit_fen < 0 or leg.credit_fen < 0 or (leg.debit_fen == 0) == (leg.credit_fen == 0):
            raise InvalidInput(f"posting to {leg.account} must have exactly one positive side",
                               field="legs", rule="ledger.one_side")
    if not is_balanced(legs):
        debits, credits = sum(x.debit_fen for x in legs), sum(x.credit_fen for x in legs)
        raise InvalidInput(f"{kind} entry for loan {loan.loan_no}: debits {debits} ≠ credits {credits}",
                           field="legs", rule="ledger.balanced")
    entry = JournalEntry(loan_id=loan.id, borrower_id=loan.borrower_id, kind=str(kind),
                         business_date=business_date, payment_id=payment_id,
                         reverses_entry_id=reverses_entry_id, memo=memo[:200])
    session.add(entry)
    session.flush()
    session.add_all(Posting(entry_id=entry.id, loan_id=loan.id, borrower_id=loan.borrower_id,
                            account=str(leg.account), debit_fen=leg.debit_fen, credit_fen=leg.credit_fen)
                    for leg in legs)
    session.flush()
    return entry


def _check_schedule(principal_fen: int, disbursed_on: date, schedule: list[ScheduledInstalment]) -> None:
    def bad(detail: str, rule: str) -> InvalidInput:
        return InvalidInput(detail, field="schedule", rule=rule)

    if not schedule:
        raise bad("a loan needs at least one instalment", "schedule.not_empty")
    if [s.seq for s in schedule] != list(range(1, len(schedule) + 1)):
        raise bad("instalments must be numbered 1, 2, 3 … in order", "schedule.seq")
    for s in schedule:
        amounts = (s.principal_fen, s.interest_fen, s.fee_fen)
        if any(isinstance(a, bool) or not isinstance(a, int) or a < 0 for a in amounts):
            raise bad(f"instalment {s.seq}: amounts must be integer fen ≥ 0", "schedule.amounts")
        if s.due_on <= disbursed_on:
            raise bad(f"instalment {s.seq} falls due {s.due_on}, not after disbursement", "schedule.due_after")
    if any(a.due_on > b.due_on for a, b in pairwise(schedule)):
        raise bad("due dates must not go backwards", "schedule.due_order")
    scheduled = sum(s.principal_fen for s in schedule)
    if scheduled != principal_fen:
        raise bad(f"instalments repay {scheduled} fen of principal, the loan is {principal_fen}",
                  "schedule.principal_sum")


def book_loan(session: Session, *, borrower_id: int, loan_no: str, product_code: str, method: str,
              principal_fen: int, annual_rate: Decimal, term: int, disbursed_on: date, first_due_on: date,
              schedule: list[ScheduledInstalment], actor: str) -> Loan:
    """Creates the loan and its instalments and books principal, contractual interest and fees."""
    try:
        product = catalog().product(product_code)
    except PolicyError as exc:
        raise InvalidInput(str(exc), field="product_code", rule="product.known") from None
    if method not in product.repayment_methods:
        raise InvalidInput(f"{product_code} does not offer {method!r}", field="method",
                           rule="repayment_method.allowed")
    if isinstance(principal_fen, bool) or not isinstance(principal_fen, int) or principal_fen <= 0:
        raise InvalidInput("principal must be integer fen > 0", field="principal_fen", rule="amount.positive")
    if (not isinstance(annual_rate, Decimal) or not annual_rate.is_finite()
            or not Decimal(0) <= annual_rate <= product.annual_rate_max):
        raise InvalidInput(f"annual rate must be a Decimal from 0 to {product.annual_rate_max}",
                           field="annual_rate", rule="annual_rate.max")
    if term < 1:
        raise InvalidInput("term must be at least 1", field="term", rule="term.positive")
    _check_schedule(principal_fen, disbursed_on, schedule)
    if session.get(Borrower, borrower_id) is None:
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id", rule="borrower.exists")
    duplicate = Conflict(f"loan number {loan_no} is already booked", field="loan_no", rule="loan_no.unique")
    if session.scalar(select(Loan.id).where(Loan.loan_no == loan_no)) is not None:
        raise duplicate

    loan = Loan(loan_no=loan_no, borrower_id=borrower_id, product_code=product_code,
                repayment_method=str(method), principal_fen=principal_fen, annual_rate=annual_rate, term=term,
                disbursed_on=disbursed_on, first_due_on=first_due_on, status="active", credit_fen=0)
    try:  # a concurrent booking of the same number loses on the unique index, not with a 500
        with savepoint(session):
            session.add(loan)
            session.flush()
    except IntegrityError:
        raise duplicate from None
    session.add_all(Instalment(loan_id=loan.id, borrower_id=borrower_id, seq=s.seq, due_on=s.due_on,
                               principal_due_fen=s.principal_fen, interest_due_fen=s.interest_fen,
                               fee_due_fen=s.fee_fen) for s in schedule)
    interest = sum(s.interest_fen for s in schedule)
    fees = sum(s.fee_fen for s in schedule)
    post_entry(session, loan=loan, kind=EntryKind.disbursement, business_date=disbursed_on,
               legs=charge_legs(Component.principal, principal_fen), memo=f"disbursement {loan_no}")
    if interest:
        post_entry(session, loan=loan, kind=EntryKind.interest, business_date=disbursed_on,
                   legs=charge_legs(Component.interest, interest), memo="contractual interest")
    if fees:
        post_entry(session, loan=loan, kind=EntryKind.fee, business_date=disbursed_on,
                   legs=charge_legs(Component.fee, fees), memo="scheduled fees")
    append_event(session, actor=actor, action="loan.booked", subject_type="loan", subject_id=loan.id,
                 borrower_id=borrower_id, after={
                     "loan_no": loan_no, "product_code": product_code, "method": str(method),
                     "principal_fen": principal_fen, "annual_rate": str(annual_rate), "term": term,
                     "disbursed_on": disbursed_on.isoformat(), "instalments": len(schedule),
                     "interest_fen": interest, "fee_fen": fees})
    return loan


def _balance_columns():
    """One aggregate column per balance account: receivables are debit-normal, borrower credit credit-normal."""
    cols = []
    for account in BALANCE_ACCOUNTS:
        sign = (Posting.credit_fen - Posting.debit_fen) if account == Account.borrower_credit \
            else (Posting.debit_fen - Posting.credit_fen)
        cols.append(func.coalesce(func.sum(case((Posting.account == str(account), sign), else_=literal(0))),
                                  0).label(str(account)))
    return cols


def derived_balances(session: Session, loan_ids: list[int] | None = None) -> dict[int, dict[Account, int]]:
    """Per loan, each receivable account and borrower credit as the postings say (one GROUP BY)."""
    stmt = (select(Posting.loan_id, *_balance_columns())
            .where(Posting.account.in_([str(a) for a in BALANCE_ACCOUNTS]))
            .group_by(Posting.loan_id))
    # Chunks keep each IN list under the drivers' bind-parameter limits (65,535 for PostgreSQL).
    batches = [stmt] if loan_ids is None else [
        stmt.where(Posting.loan_id.in_(loan_ids[i:i + ID_CHUNK])) for i in range(0, len(loan_ids), ID_CHUNK)]
    out: dict[int, dict[Account, int]] = {}
    for batch in batches:
        for row in session.execute(batch):
            out[row[0]] = {a: int(v) for a, v in zip(BALANCE_ACCOUNTS, row[1:])}
    return out


@dataclass
class LedgerReport:
    entries: int
    postings: int
    total_debit_fen: int
    total_credit_fen: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_ledger(session: Session, limit: int = 1000) -> LedgerReport:
    """Proves the ledger: every entry balances, totals agree, and per loan the postings equal the
    instalments (due − paid − waived by component) and the loan's credit balance. At most ``limit``
    mismatching rows of each kind are listed."""
    entries = session.scalar(select(func.count()).select_from(JournalEntry)) or 0
    n, debit, credit = session.execute(
        select(func.count(), func.coalesce(func.sum(Posting.debit_fen), 0),
               func.coalesce(func.sum(Posting.credit_fen), 0))).one()
    report = LedgerReport(entries, n, int(debit), int(credit))
    problems = report.problems

    unbalanced = (select(Posting.entry_id, JournalEntry.kind, Loan.loan_no,
                         func.sum(Posting.debit_fen), func.sum(Posting.credit_fen))
                  .join(JournalEntry, JournalEntry.id == Posting.entry_id)
                  .join(Loan, Loan.id == JournalEntry.loan_id, isouter=True)
                  .group_by(Posting.entry_id, JournalEntry.kind, Loan.loan_no)
                  .having(func.sum(Posting.debit_fen) != func.sum(Posting.credit_fen))
                  .order_by(Posting.entry_id).limit(limit))
    for entry_id, kind, loan_no, d, c in session.execute(unbalanced):
        problems.append(f"entry {entry_id} ({kind}, loan {loan_no}) does not balance: "
                        f"debits {int(d)} fen, credits {int(c)} fen")
    empty = (select(JournalEntry.id, JournalEntry.kind)
             .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
             .where(Posting.id.is_(None)).order_by(JournalEntry.id).limit(limit))
    for entry_id, kind in session.execute(empty):
        problems.append(f"entry {entry_id} ({kind}) has no postings")
    if report.total_debit_fen != report.total_credit_fen:
        problems.append(f"total debits {report.total_debit_fen} fen ≠ total credits {report.total_credit_fen} fen")

    derived = (select(Posting.loan_id.label("loan_id"), *_balance_columns())
               .where(Posting.account.in_([str(a) for a in BALANCE_ACCOUNTS]))
               .group_by(Posting.loan_id).subquery("derived"))
    expected = (select(Instalment.loan_id.label("loan_id"), *(
        func.sum(getattr(Instalment, f"{c}_due_fen") - getattr(Instalment, f"{c}_paid_fen")
                 - getattr(Instalment, f"{c}_waived_fen")).label(str(c)) for c in COMPONENTS))
        .group_by(Instalment.loan_id).subquery("expected"))
    pairs = [(func.coalesce(derived.c[str(RECEIVABLE[c])], 0), func.coalesce(expected.c[str(c)], 0),
              str(RECEIVABLE[c]), f"instalments' {c} outstanding") for c in COMPONENTS]
    pairs.append((func.coalesce(derived.c[str(Account.borrower_credit)], 0), Loan.credit_fen,
                  str(Account.borrower_credit), "loans.credit_fen"))
    mismatched = (select(Loan.loan_no, *(x for p in pairs for x in p[:2]))
                  .select_from(Loan)
                  .outerjoin(derived, derived.c.loan_id == Loan.id)
                  .outerjoin(expected, expected.c.loan_id == Loan.id)
                  .where(or_(*(a != b for a, b, _, _ in pairs)))
                  .order_by(Loan.loan_no).limit(limit))
    for row in session.execute(mismatched):
        loan_no, figures = row[0], row[1:]
        for i, (_, _, account, what) in enumerate(pairs):
            ledger_fen, book_fen = int(figures[2 * i]), int(figures[2 * i + 1])
            if ledger_fen != book_fen:
                problems.append(f"loan {loan_no}: {account} is {ledger_fen} fen in the ledger "
                                f"but {what} is {book_fen} fen")
    return report
