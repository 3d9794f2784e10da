"""One loan's point-in-time features in plain Python, for a score on request (≤ 5 ms: a DuckDB plan alone costs
more). It is the per-loan twin of ``FEATURES_SQL`` (same rules, same columns); tests/scores/test_features.py
proves the two agree on every loan of a generated portfolio at several dates."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import pyarrow as pa

DAYS_PER_MONTH = (487, 16)  # 30.4375 days = 487 / 16, as the SQL divides


def _rows(table: pa.Table, loan_id: int) -> list[dict]:
    return [r for r in table.to_pylist() if r["loan_id"] == loan_id]


def _rate(text: str | None) -> float | None:
    try:
        return float(Decimal(text)) if text is not None else None
    except (InvalidOperation, ValueError):
        return None


def features_one(sources: dict[str, pa.Table], loan_id: int, as_of: date) -> dict | None:
    """The feature row of ``(loan_id, as_of)`` as a dict, or None if the loan was not disbursed by then."""
    loans = [r for r in _rows(sources["loans"], loan_id) if r["disbursed_on"] <= as_of]
    if not loans:
        return None
    loan = loans[0]
    inst = [r for r in _rows(sources["instalments"], loan_id) if r["due_on"] <= as_of]
    daily: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for s in _rows(sources["settlements"], loan_id):
        cell = daily[(s["seq"], s["value_date"])]
        cell[0] += s["amount_fen"] if s["component"] != "penalty" else 0
        cell[1] += s["amount_fen"]
    running: dict[int, list[tuple[date, int]]] = defaultdict(list)  # seq → (date, cumulative non-penalty)
    for (seq, day), (amount, _) in sorted(daily.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        before = running[seq][-1][1] if running[seq] else 0
        running[seq].append((day, before + amount))

    n_due = due_fen = paid_fen = 0
    oldest_unpaid = last_due_on = max_late = None
    n_late = on_time = 0
    for i in inst:
        known = [(d, c) for d, c in running.get(i["seq"], []) if d <= as_of]
        paid = min(max((c for _, c in known), default=0), i["due_fen"])
        settled = min((d for d, c in known if c >= i["due_fen"]), default=None)
        late = ((settled or as_of) - i["due_on"]).days
        n_due, due_fen, paid_fen = n_due + 1, due_fen + i["due_fen"], paid_fen + paid
        if settled is None:
            oldest_unpaid = min(oldest_unpaid or i["due_on"], i["due_on"])
        if i["due_on"] > as_of - timedelta(days=180):
            max_late = late if max_late is None else max(max_late, late)
            n_late += late > 3
        on_time += late <= 3
        last_due_on = max(last_due_on or i["due_on"], i["due_on"])

    paid_days = [(d, all_fen) for (_, d), (_, all_fen) in daily.items() if d <= as_of]
    last_paid_on = max((d for d, _ in paid_days), default=None)
    paid_90d = sum(a for d, a in paid_days if d > as_of - timedelta(days=90))
    contacts = [c for c in _rows(sources["contacts"], loan_id) if as_of - timedelta(days=30) < c["on_date"] <= as_of]
    promises = [r for r in _rows(sources["promises"], loan_id)
                if r["promised_on"] <= as_of and r["status"] != "cancelled"]
    resolved = lambda r: r["resolved_on"] is not None and r["resolved_on"] <= as_of  # noqa: E731
    instalment = due_fen / n_due if due_fen > 0 else None
    term = loan["term"]
    dates = [loan["disbursed_on"], last_due_on, last_paid_on, max((c["on_date"] for c in contacts), default=None),
             max((r["resolved_on"] if resolved(r) else r["promised_on"] for r in promises), default=None)]
    return {
        "loan_id": loan_id, "as_of": as_of, "product_code": loan["product_code"], "annual_rate": _rate(loan["annual_rate"]),
        "term": term, "principal_fen": loan["principal_fen"],
        "months_on_book": (as_of - loan["disbursed_on"]).days * DAYS_PER_MONTH[1] / DAYS_PER_MONTH[0],
        "remaining_share": max(term - n_due, 0) / term if term > 0 else None,
        "dpd": (as_of - oldest_unpaid).days if oldest_unpaid else 0, "max_late_6m": max_late, "n_late_6m": n_late,
        "on_time_share": on_time / n_due if n_due else None,
        "paid_ratio": paid_fen / due_fen if due_fen > 0 else None,
        "overdue_to_instalment": (due_fen - paid_fen) / instalment if instalment else None,
        "paid_90d_ratio": paid_90d / instalment if instalment else None,
        "days_since_last_payment": (as_of - last_paid_on).days if last_paid_on else None,
        "contacts_30d": len(contacts), "reached_30d": sum(1 for c in contacts if c["reached"]),
        "open_promise": "yes" if any(not resolved(r) for r in promises) else "no",
        "broken_promises_180d": sum(1 for r in promises if r["status"] == "broken" and resolved(r)
                                    and r["resolved_on"] > as_of - timedelta(days=180)),
        "active": term > n_due or oldest_unpaid is not None,
        "source_max_date": max(d for d in dates if d is not None),
    }


def as_table(row: dict) -> pa.Table:
    """One feature row as a one-row table the model scores like a bulk row."""
    return pa.table({k: [v] for k, v in row.items()})
