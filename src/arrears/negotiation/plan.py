"""The repayment plan record shared by option generation, offers, agreements and execution.

A plan restates a loan's outstanding debt as of ``as_of`` (by component, in fen) as a new schedule plus what
is waived. Per component ``c`` it always holds that

    Σ schedule[c] + waiver[c] = debt[c] + added[c]

where ``added`` is what the plan itself charges: new interest on the rescheduled principal and any instalment
fee the product allows. ``Plan.check`` enforces it; a plan that breaks it is a bug, never a user error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

COMPONENTS = ("principal", "interest", "penalty", "fee", "cost")
KINDS = ("instalments", "extension", "waiver", "rate_reduction", "payment_holiday", "step_up", "settlement",
         "combination")


@dataclass(frozen=True)
class Amounts:
    """Fen per component."""

    principal: int = 0
    interest: int = 0
    penalty: int = 0
    fee: int = 0
    cost: int = 0

    def __post_init__(self) -> None:
        for c in COMPONENTS:
            v = getattr(self, c)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{c} must be a non-negative int of fen, got {v!r}")

    @property
    def total(self) -> int:
        return sum(getattr(self, c) for c in COMPONENTS)

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(**{c: getattr(self, c) + getattr(other, c) for c in COMPONENTS})


@dataclass(frozen=True)
class PlanInstalment:
    seq: int
    due_on: date
    amounts: Amounts

    @property
    def total(self) -> int:
        return self.amounts.total


@dataclass(frozen=True)
class Plan:
    kind: str
    loan_id: int
    as_of: date
    debt: Amounts  # outstanding as of ``as_of``
    schedule: tuple[PlanInstalment, ...]
    waiver: Amounts = Amounts()
    added: Amounts = Amounts()  # new interest (and fees) the plan charges
    annual_rate: Decimal = Decimal("0")  # on the rescheduled principal
    waiver_conditional: bool = True  # waived amounts come back on breach, less what was paid
    params: dict = field(default_factory=dict)  # the generator's inputs (periods, holiday months, step …)

    @property
    def total_to_pay(self) -> int:
        return sum(i.total for i in self.schedule)

    @property
    def first_payment(self) -> int:
        return self.schedule[0].total if self.schedule else 0

    @property
    def max_payment(self) -> int:
        return max((i.total for i in self.schedule), default=0)

    @property
    def waived(self) -> int:
        return self.waiver.total

    def check(self) -> Plan:
        if self.kind not in KINDS:
            raise ValueError(f"unknown plan kind {self.kind!r}")
        seqs = [i.seq for i in self.schedule]
        if seqs != list(range(1, len(seqs) + 1)):
            raise ValueError("plan instalments must be numbered 1..n")
        dates = [i.due_on for i in self.schedule]
        if dates != sorted(dates) or len(set(dates)) != len(dates) or (dates and dates[0] <= self.as_of):
            raise ValueError("plan due dates must be strictly increasing and after as_of")
        paid = Amounts()
        for i in self.schedule:
            paid = paid + i.amounts
        if paid + self.waiver != self.debt + self.added:
            raise ValueError(f"plan does not restate the debt: {paid} + {self.waiver} != {self.debt} + {self.added}")
        return self
