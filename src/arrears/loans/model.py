"""Pure records of the loan book: terms, scheduled instalments, balances by component."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from arrears.products.model import COMPONENTS, Component, RepaymentMethod


@dataclass(frozen=True)
class LoanTerms:
    principal_fen: int
    annual_rate: Decimal
    term: int  # periods; for bullet, months to maturity (maturity = first_due_on)
    method: RepaymentMethod
    disbursed_on: date
    first_due_on: date


@dataclass(frozen=True)
class ScheduledInstalment:
    seq: int  # 1-based
    due_on: date
    principal_fen: int
    interest_fen: int
    fee_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.interest_fen + self.fee_fen


@dataclass(frozen=True)
class InstalmentBalance:
    """An instalment's amounts by component: due, paid and waived. Outstanding = due − paid − waived."""

    seq: int
    due_on: date
    due: dict[Component, int]
    paid: dict[Component, int] = field(default_factory=dict)
    waived: dict[Component, int] = field(default_factory=dict)

    def outstanding(self, component: Component) -> int:
        return self.due.get(component, 0) - self.paid.get(component, 0) - self.waived.get(component, 0)

    @property
    def outstanding_total(self) -> int:
        return sum(self.outstanding(c) for c in COMPONENTS)
