"""Posting many payments at once (imports, migrations of payment history, the demo).

The same rules as ``payments.post_payment`` — the product's waterfall (``allocate``), surplus held as
credit, one balanced ledger entry per payment, idempotency keys — but with set-based reads and
writes: the affected loans' instalments are read in one query, payments are allocated in memory in
value-date order (allocation is sequential by nature: each payment sees what the previous one left),
and everything is written back in bulk. Entries are dated by the payment's value date, since these
are payments already received.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.db.base import as_date
from arrears.db.bulk import fetch_arrow, insert_arrow, update_from_arrow
from arrears.errors import Conflict
from arrears.ledger.model import Account, settlement_legs
from arrears.loans.allocation import allocate
from arrears.loans.imports.lookup import ids_by_key, timestamp_column
from arrears.loans.model import InstalmentBalance
from arrears.loans.one_by_one import one_by_one
from arrears.loans.payments import request_digest
from arrears.products.catalog import Catalog, catalog
from arrears.products.model import COMPONENTS, Component

_PAID = [f"{c.value}_paid_fen" for c in COMPONENTS]


@dataclass(frozen=True)
class BulkPaymentResult:
    posted: int
    replayed: int


def post_payments_bulk(session: Session, payments: pa.Table, *, cat: Catalog | None = None) -> BulkPaymentResult:
    """``payments``: loan_id, amount_fen, received_on, idempotency_key, channel, external_ref (validated)."""
    cat = cat or catalog()
    rows = sorted(payments.to_pylist(), key=lambda p: (p["received_on"], p["loan_id"]))
    fresh, replayed = _split_replays(session, rows)
    if not fresh:
        return BulkPaymentResult(0, replayed)
    loan_ids = sorted({p["loan_id"] for p in fresh})
    loans, books = load_books(session, loan_ids)
    allocations: list[tuple] = []  # (payment index, instalment id, component, amount, instalment due date)
    to_credit: list[int] = []
    for index, p in enumerate(fresh):
        book = books[p["loan_id"]]
        rule = cat.product(loans[p["loan_id"]]["product_code"]).allocation
        result = allocate(p["amount_fen"], [b for _, b in book], rule, on=p["received_on"])
        settle(book, result.lines, index, allocations)
        to_credit.append(result.unallocated_fen)
        loans[p["loan_id"]]["credit_fen"] += result.unallocated_fen
    payment_ids = _insert_payments(session, fresh, to_credit, loans)
    _insert_allocations(session, allocations, payment_ids, fresh, loans)
    _insert_entries(session, fresh, payment_ids, allocations, to_credit, loans)
    write_back(session, books, loans)
    return BulkPaymentResult(len(fresh), replayed)


def settle(book: list[tuple[int, InstalmentBalance]], lines, index: int, allocations: list) -> None:  # noqa: ANN001
    """Applies allocation lines to a loan's in-memory instalments; records (index, row id, component, amount,
    due date)."""
    by_seq = {b.seq: i for i, (_, b) in enumerate(book)}
    for line in lines:
        row_id, balance = book[by_seq[line.seq]]
        paid = dict(balance.paid)
        paid[line.component] = paid.get(line.component, 0) + line.amount_fen
        book[by_seq[line.seq]] = (row_id, InstalmentBalance(balance.seq, balance.due_on, balance.due, paid,
                                                            balance.waived))
        allocations.append((index, row_id, line.component.value, line.amount_fen, balance.due_on))


def posting_rows(entry_ids: list[int], loan_ids: list[int], borrower_ids: list[int], legs: list[list]) -> pa.Table:
    """The postings of many entries: entry k gets the legs ``legs[k]``."""
    rows = [(entry_ids[k], loan_ids[k], borrower_ids[k], leg.account.value, leg.debit_fen, leg.credit_fen)
            for k in range(len(entry_ids)) for leg in legs[k]]
    columns = list(zip(*rows)) if rows else [[]] * 6
    return pa.table({
        "entry_id": pa.array(columns[0], pa.int64()), "loan_id": pa.array(columns[1], pa.int64()),
        "borrower_id": pa.array(columns[2], pa.int64()), "account": pa.array(columns[3], pa.string()),
        "debit_fen": pa.array(columns[4], pa.int64()), "credit_fen": pa.array(columns[5], pa.int64()),
    })


def _split_replays(session: Session, rows: list[dict]) -> tuple[list[dict], int]:
    for p in rows:
        p["digest"] = request_digest(loan_id=p["loan_id"], amount_fen=p["amount_fen"], received_on=p["received_on"],
                                     channel=p["channel"], external_ref=p["external_ref"])
    stored = ids_by_key(session, "payments", "idempotency_key", pa.array([p["idempotency_key"] for p in rows]),
                        extra="request_digest")
    known = dict(zip(stored.column("value").to_pylist(), stored.column("request_digest").to_pylist()))
    fresh = []
    for p in rows:
        if p["idempotency_key"] in known:
            if known[p["idempotency_key"]] != p["digest"]:
                raise Conflict(f"idempotency key {p['idempotency_key']!r} was used before for a different payment",
                               field="idempotency_key", rule="idempotency.key_reused")
            continue
        fresh.append(p)
    return fresh, len(rows) - len(fresh)


def _in_list(ids: list[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)  # ints from our own query: safe to inline


def load_books(session: Session, loan_ids: list[int]) -> tuple[dict[int, dict], dict[int, list]]:
    loans: dict[int, dict] = {}
    books: dict[int, list[tuple[int, InstalmentBalance]]] = {i: [] for i in loan_ids}
    for start in range(0, len(loan_ids), 5000):
        chunk = _in_list(loan_ids[start:start + 5000])
        for r in session.execute(text(f"SELECT id, borrower_id, product_code, credit_fen, version, disbursed_on "
                                      f"FROM loans WHERE id IN ({chunk})")).mappings():
            loans[r["id"]] = dict(r) | {"disbursed_on": as_date(r["disbursed_on"])}
        cols = ", ".join(f"{c.value}_{k}_fen" for k in ("due", "paid", "waived") for c in COMPONENTS)
        for r in session.execute(text(f"SELECT id, loan_id, seq, due_on, {cols} FROM instalments "
                                      f"WHERE loan_id IN ({chunk}) ORDER BY loan_id, seq")).mappings():
            due_on = as_date(r["due_on"])
            amounts = {k: {c: r[f"{c.value}_{k}_fen"] for c in COMPONENTS} for k in ("due", "paid", "waived")}
            books[r["loan_id"]].append((r["id"], InstalmentBalance(r["seq"], due_on, amounts["due"],
                                                                   amounts["paid"], amounts["waived"])))
    return loans, books


def _insert_payments(session: Session, fresh: list[dict], to_credit: list[int], loans: dict) -> list[int]:
    n = len(fresh)
    insert_arrow(session, "payments", pa.table({
        "loan_id": pa.array([p["loan_id"] for p in fresh], pa.int64()),
        "borrower_id": pa.array([loans[p["loan_id"]]["borrower_id"] for p in fresh], pa.int64()),
        "idempotency_key": pa.array([p["idempotency_key"] for p in fresh], pa.string()),
        "request_digest": pa.array([p["digest"] for p in fresh], pa.string()),
        "amount_fen": pa.array([p["amount_fen"] for p in fresh], pa.int64()),
        "received_on": pa.array([p["received_on"] for p in fresh], pa.date32()),
        "channel": pa.array([p["channel"] for p in fresh], pa.string()),
        "external_ref": pa.array([p["external_ref"] for p in fresh], pa.string()),
        "to_credit_fen": pa.array(to_credit, pa.int64()),
        "status": pa.array(["posted"] * n, pa.string()),
        "created_at": timestamp_column(session, n),
    }))
    ids = ids_by_key(session, "payments", "idempotency_key", pa.array([p["idempotency_key"] for p in fresh]))
    by_key = dict(zip(ids.column("value").to_pylist(), ids.column("id").to_pylist()))
    return [by_key[p["idempotency_key"]] for p in fresh]


def _insert_allocations(session: Session, allocations: list, payment_ids: list[int], fresh: list[dict],
                        loans: dict) -> None:
    insert_arrow(session, "payment_allocations", pa.table({
        "source": pa.array(["payment"] * len(allocations), pa.string()),
        "payment_id": pa.array([payment_ids[a[0]] for a in allocations], pa.int64()),
        "loan_id": pa.array([fresh[a[0]]["loan_id"] for a in allocations], pa.int64()),
        "instalment_id": pa.array([a[1] for a in allocations], pa.int64()),
        "component": pa.array([a[2] for a in allocations], pa.string()),
        "amount_fen": pa.array([a[3] for a in allocations], pa.int64()),
        "value_date": pa.array([fresh[a[0]]["received_on"] for a in allocations], pa.date32()),
        "one_by_one": pa.array([one_by_one(fresh[a[0]]["received_on"], a[4],
                                           loans[fresh[a[0]]["loan_id"]]["disbursed_on"], a[2])
                                for a in allocations], pa.bool_()),
    }))


def _insert_entries(session: Session, fresh: list[dict], payment_ids: list[int], allocations: list,
                    to_credit: list[int], loans: dict) -> None:
    n = len(fresh)
    insert_arrow(session, "journal_entries", pa.table({
        "loan_id": pa.array([p["loan_id"] for p in fresh], pa.int64()),
        "borrower_id": pa.array([loans[p["loan_id"]]["borrower_id"] for p in fresh], pa.int64()),
        "kind": pa.array(["payment"] * n), "business_date": pa.array([p["received_on"] for p in fresh], pa.date32()),
        "payment_id": pa.array(payment_ids, pa.int64()),
        "memo": pa.array([f"payment {p['idempotency_key']}"[:200] for p in fresh]),
        "created_at": timestamp_column(session, n),
    }))
    entry_ids = fetch_arrow(session, f"SELECT payment_id, id FROM journal_entries WHERE kind = 'payment' AND "
                                     f"payment_id IN ({_in_list(payment_ids)})")
    entry_of = dict(zip(entry_ids.column("payment_id").to_pylist(), entry_ids.column("id").to_pylist()))
    per_payment: list[dict[Component, int]] = [{} for _ in fresh]
    for index, _row, component, amount, _due in allocations:
        c = Component(component)
        per_payment[index][c] = per_payment[index].get(c, 0) + amount
    legs = [settlement_legs(Account.cash_clearing, per_payment[k], to_credit[k]) for k in range(len(fresh))]
    insert_arrow(session, "postings", posting_rows([entry_of[pid] for pid in payment_ids],
                                                   [p["loan_id"] for p in fresh],
                                                   [loans[p["loan_id"]]["borrower_id"] for p in fresh], legs))


def write_back(session: Session, books: dict, loans: dict) -> None:
    """Paid columns and credit balances from the in-memory state; a loan changed meanwhile is a 409."""
    rows = [(row_id, *[b.paid.get(c, 0) for c in COMPONENTS]) for book in books.values() for row_id, b in book]
    columns = list(zip(*rows))
    paid = {"id": pa.array(columns[0], pa.int64())}
    paid |= {name: pa.array(columns[i + 1], pa.int64()) for i, name in enumerate(_PAID)}
    update_from_arrow(session, "instalments", pa.table(paid))
    ids = sorted(loans)
    changed = update_from_arrow(session, "loans", pa.table({
        "id": pa.array(ids, pa.int64()),
        "credit_fen": pa.array([loans[i]["credit_fen"] for i in ids], pa.int64()),
        "version": pa.array([loans[i]["version"] for i in ids], pa.int64()),
    }), assignments="credit_fen = u.credit_fen, version = loans.version + 1", where="AND loans.version = u.version")
    if changed != len(ids):
        raise Conflict("some loans changed while their payments were being posted; run the import again",
                       field="loan_id", rule="loan.version")
