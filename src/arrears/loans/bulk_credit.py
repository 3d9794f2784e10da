"""Applying held credit balances in bulk (end of day): each loan's credit pays what has fallen due,
by the product's waterfall, never prepaying (the same rules as ``payments.apply_credit``).

The candidate loans are found with one query (credit held and something due and unpaid); their
instalments are read and written back in bulk like bulk payments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.bulk import fetch_arrow, insert_arrow
from arrears.ledger.model import Account, EntryKind, settlement_legs
from arrears.loans.allocation import allocate
from arrears.loans.bulk_payments import load_books, posting_rows, settle, write_back
from arrears.loans.one_by_one import one_by_one
from arrears.loans.imports.lookup import timestamp_column
from arrears.products.catalog import Catalog, catalog
from arrears.products.model import COMPONENTS

_OUTSTANDING = " + ".join(f"i.{c.value}_due_fen - i.{c.value}_paid_fen - i.{c.value}_waived_fen" for c in COMPONENTS)


@dataclass(frozen=True)
class CreditResult:
    loans: int
    applied_fen: int


def apply_credit_bulk(session: Session, on: date, cat: Catalog | None = None) -> CreditResult:
    cat = cat or catalog()
    candidates = session.execute(text(f"""
        SELECT DISTINCT l.id FROM loans l JOIN instalments i ON i.loan_id = l.id
        WHERE l.status = 'active' AND l.credit_fen > 0 AND i.due_on <= :on AND ({_OUTSTANDING}) > 0
        ORDER BY l.id"""), {"on": on}).scalars().all()
    if not candidates:
        return CreditResult(0, 0)
    loans, books = load_books(session, list(candidates))
    applied: list[tuple[int, int, dict]] = []  # (loan id, amount, {component: amount})
    allocations: list[tuple] = []  # (applied index, instalment id, component, amount, instalment due date)
    for loan_id in candidates:
        rule = cat.product(loans[loan_id]["product_code"]).allocation
        result = allocate(loans[loan_id]["credit_fen"], [b for _, b in books[loan_id]], rule, on=on,
                          include_current=False)
        if not result.lines:
            continue
        settle(books[loan_id], result.lines, len(applied), allocations)
        loans[loan_id]["credit_fen"] = result.unallocated_fen
        applied.append((loan_id, result.allocated_fen, result.by_component()))
    if not applied:
        return CreditResult(0, 0)
    entry_ids = _entries(session, on, applied, loans)
    insert_arrow(session, "payment_allocations", pa.table({
        "source": pa.array(["credit"] * len(allocations), pa.string()),
        "entry_id": pa.array([entry_ids[a[0]] for a in allocations], pa.int64()),
        "loan_id": pa.array([applied[a[0]][0] for a in allocations], pa.int64()),
        "instalment_id": pa.array([a[1] for a in allocations], pa.int64()),
        "component": pa.array([a[2] for a in allocations], pa.string()),
        "amount_fen": pa.array([a[3] for a in allocations], pa.int64()),
        "value_date": pa.array([on] * len(allocations), pa.date32()),
        "one_by_one": pa.array([one_by_one(on, a[4], loans[applied[a[0]][0]]["disbursed_on"], a[2])
                                for a in allocations], pa.bool_()),
    }))
    write_back(session, {loan_id: books[loan_id] for loan_id, _, _ in applied},
               {loan_id: loans[loan_id] for loan_id, _, _ in applied})
    return CreditResult(len(applied), sum(a[1] for a in applied))


def _entries(session: Session, on: date, applied: list, loans: dict) -> list[int]:
    """One credit_applied entry per loan; returns their ids in ``applied`` order."""
    before = session.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one()
    n = len(applied)
    insert_arrow(session, "journal_entries", pa.table({
        "loan_id": pa.array([a[0] for a in applied], pa.int64()),
        "borrower_id": pa.array([loans[a[0]]["borrower_id"] for a in applied], pa.int64()),
        "kind": pa.array([EntryKind.credit_applied.value] * n), "business_date": pa.array([on] * n, pa.date32()),
        "memo": pa.array(["credit balance applied"] * n), "created_at": timestamp_column(session, n),
    }))
    ids = fetch_arrow(session, "SELECT loan_id, id FROM journal_entries WHERE kind = :k AND id > :b",
                      {"k": EntryKind.credit_applied.value, "b": before})
    entry_of = dict(zip(ids.column("loan_id").to_pylist(), ids.column("id").to_pylist()))
    entry_ids = [entry_of[a[0]] for a in applied]
    legs = [settlement_legs(Account.borrower_credit, a[2]) for a in applied]
    insert_arrow(session, "postings", posting_rows(entry_ids, [a[0] for a in applied],
                                                   [loans[a[0]]["borrower_id"] for a in applied], legs))
    return entry_ids

