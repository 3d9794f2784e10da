"""The allocation flag ``one_by_one`` (tables.PaymentAllocation): whether end of day must see a settlement by
itself (docs/eod.md, Inputs). Only such an allocation can carry penalty weight, decide when its instalment was
fully settled, or get its loan rejected; the rest reach the engine through the instalments' settled totals.
Every writer of allocations sets it from what it holds when it writes them, so that PostgreSQL can hand end of
day only these rows through a partial index instead of every allocation."""

from __future__ import annotations

from datetime import date

from arrears.products.model import COMPONENTS

KNOWN = frozenset(c.value for c in COMPONENTS)  # the components the engine knows (delinquency.io._COMPONENTS)


def one_by_one(value_date: date, due_on: date, disbursed_on: date, component: str) -> bool:
    """Dated after the instalment's due date, before the loan's disbursement, or of an unknown component."""
    return value_date > due_on or value_date < disbursed_on or str(component) not in KNOWN
