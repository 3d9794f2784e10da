"""The payment waterfall: which instalment and component a payment settles, in which order. Pure.

Default order is 民法典 Art. 561: costs of enforcing the claim, then fees / penalty / interest, then
principal. A product may instead ask for principal first once the loan is far enough overdue
(credit cards at 91+ days, 信用卡业务监督管理办法 Art. 57).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from arrears.errors import InvalidInput
from arrears.loans.model import InstalmentBalance
from arrears.products.model import AllocationRule, Component

DEFAULT_ORDER: tuple[Component, ...] = (
    Component.cost, Component.fee, Component.penalty, Component.interest, Component.principal,
)
DEFAULT_RULE = AllocationRule(sequence="instalment_first", order=DEFAULT_ORDER)


@dataclass(frozen=True)
class AllocationLine:
    seq: int
    component: Component
    amount_fen: int


@dataclass(frozen=True)
class Allocation:
    lines: tuple[AllocationLine, ...]
    unallocated_fen: int  # the caller keeps it as the borrower's credit balance

    @property
    def allocated_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    def by_component(self) -> dict[Component, int]:
        totals: dict[Component, int] = {}
        for line in self.lines:
            totals[line.component] = totals.get(line.component, 0) + line.amount_fen
        return totals


def _ordered(instalments: Sequence[InstalmentBalance]) -> list[InstalmentBalance]:
    return sorted(instalments, key=lambda i: (i.due_on, i.seq))


def days_past_due(instalments: Sequence[InstalmentBalance], on: date) -> int:
    """Days since the oldest instalment that fell due before ``on`` and still has something outstanding."""
    overdue = [i.due_on for i in instalments if i.due_on < on and i.outstanding_total > 0]
    return (on - min(overdue)).days if overdue else 0


def eligible_instalments(instalments: Sequence[InstalmentBalance], on: date, *,
                         include_current: bool = True) -> list[InstalmentBalance]:
    """Instalments due on or before ``on``, oldest first, plus (optionally) the first one not yet due.

    The current period may be paid ahead of its date; anything beyond it would be early settlement,
    which is its own use case with its own interest rules, so a plain payment never reaches it.
    """
    ordered = _ordered(instalments)
    due = [i for i in ordered if i.due_on <= on]
    if include_current:
        due.extend([i for i in ordered if i.due_on > on][:1])
    return due


def effective_order(rule: AllocationRule, instalments: Sequence[InstalmentBalance], on: date
                    ) -> tuple[Component, ...]:
    threshold = rule.principal_first_after_dpd
    if threshold is not None and days_past_due(instalments, on) >= threshold:
        return (Component.principal, *(c for c in rule.order if c != Component.principal))
    return rule.order


def allocate(amount_fen: int, instalments: Sequence[InstalmentBalance], rule: AllocationRule = DEFAULT_RULE,
             *, on: date, include_current: bool = True) -> Allocation:
    """Splits ``amount_fen`` over the eligible instalments by ``rule``; what is left is unallocated.

    ``include_current=False`` restricts it to instalments already due (a held credit balance is applied
    only to what has fallen due, never to prepay).
    """
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput(f"amount must be integer fen, not {type(amount_fen).__name__}",
                           field="amount_fen", rule="amount.integer_fen")
    if amount_fen <= 0:
        raise InvalidInput(f"amount must be more than 0 fen, got {amount_fen}",
                           field="amount_fen", rule="amount.positive")
    seqs = [i.seq for i in instalments]
    if len(set(seqs)) != len(seqs):
        raise InvalidInput("instalment numbers repeat", field="instalments", rule="instalments.unique_seq")

    order = effective_order(rule, instalments, on)
    eligible = eligible_instalments(instalments, on, include_current=include_current)
    if rule.sequence == "instalment_first":
        slots = [(inst, c) for inst in eligible for c in order]
    else:
        slots = [(inst, c) for c in order for inst in eligible]

    remaining = amount_fen
    lines: list[AllocationLine] = []
    for inst, component in slots:
        if remaining == 0:
            break
        # A data error (paid + waived above due) must never turn into a negative line.
        take = min(remaining, max(inst.outstanding(component), 0))
        if take > 0:
            lines.append(AllocationLine(inst.seq, component, take))
            remaining -= take
    return Allocation(lines=tuple(lines), unallocated_fen=remaining)
