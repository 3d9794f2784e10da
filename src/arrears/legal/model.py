"""Pure legal rules: the cap on what a judgment may award and the deadline dates a judgment starts.

The cap (policy.yaml judgment_caps, numbers from products/legal.yaml): interest, penalty interest and fees
awarded together must not exceed ``principal awarded × annual cap × days / day_count``, where ``days`` runs
from disbursement to the date interest is computed until. The principal awarded is at most what was outstanding
at any time since disbursement (principal only goes down), so this bound is never looser than the cap on the
real balance over the period (it is conservative).
The strictest cap that applies binds, and a refusal names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from arrears.errors import InvalidInput
from arrears.legal.policy import LegalPolicy
from arrears.money import format_yuan, round_fen
from arrears.products.model import LegalLimits, Product


@dataclass(frozen=True)
class Award:
    """What a judgment awards, in fen. ``costs`` (court and lawyer fees the court shifts) are outside the cap."""

    principal_fen: int
    interest_fen: int
    penalty_fen: int
    fee_fen: int
    costs_fen: int

    def __post_init__(self) -> None:
        for name in ("principal_fen", "interest_fen", "penalty_fen", "fee_fen", "costs_fen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput("must be a non-negative whole number of fen", field=name,
                                   rule="legal.amount_non_negative")

    @property
    def charges_fen(self) -> int:
        """What the cap limits: interest, penalty interest and fees together."""
        return self.interest_fen + self.penalty_fen + self.fee_fen

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.charges_fen + self.costs_fen


@dataclass(frozen=True)
class Cap:
    rule: str  # e.g. legal.judgment_cap.financial_loan_total_cost_cap
    annual: Decimal
    source: str
    limit_fen: int


def applicable_caps(product: Product, legal: LegalLimits) -> list[tuple[str, Decimal, str]]:
    """(name, annual rate, source) of every cap that applies to loans of ``product``."""
    caps = [("financial_loan_total_cost_cap", legal.financial_loan_total_cost_cap.annual,
             legal.financial_loan_total_cost_cap.source)]
    if product.penalty.caps.lpr_multiple:
        caps.append(("private_lending_cap_lpr_multiple",
                     legal.one_year_lpr.rate * legal.private_lending_cap_lpr_multiple.multiple,
                     legal.private_lending_cap_lpr_multiple.source))
    if product.penalty.caps.total_cost_annual is not None:
        caps.append(("product_total_cost_annual", product.penalty.caps.total_cost_annual,
                     f"product {product.code} penalty.caps.total_cost_annual"))
    return caps


def binding_cap(*, principal_fen: int, disbursed_on: date, interest_until: date, product: Product,
                legal: LegalLimits, policy: LegalPolicy) -> Cap:
    """The strictest cap in fen for this award's principal and period."""
    if interest_until < disbursed_on:
        raise InvalidInput(f"interest computed until {interest_until}, before disbursement on {disbursed_on}",
                           field="interest_until", rule="legal.interest_until_after_disbursement")
    days = (interest_until - disbursed_on).days
    name, annual, source = min(applicable_caps(product, legal), key=lambda c: c[1])
    limit = round_fen(Decimal(principal_fen) * annual * days / policy.judgment_caps.day_count, "down")
    return Cap(f"legal.judgment_cap.{name}", annual, source, limit)


def check_award(award: Award, cap: Cap) -> None:
    """Refuses an award whose interest, penalties and fees exceed the cap, naming the rule and its source."""
    if award.charges_fen > cap.limit_fen:
        raise InvalidInput(
            f"interest, penalty interest and fees awarded ({format_yuan(award.charges_fen)} yuan) exceed the "
            f"legal cap of {format_yuan(cap.limit_fen)} yuan ({cap.annual * 100}%/year on the principal awarded; "
            f"{cap.source})", field="award", rule=cap.rule)


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def judgment_deadlines(*, served_on: date, performance_days: int, policy: LegalPolicy) -> dict[str, date]:
    """The last day for each deadline a first-instance judgment starts, assuming no appeal: the judgment takes
    effect the day after the appeal period ends and must be performed ``performance_days`` later."""
    appeal = policy.deadlines["appeal"]
    appeal_due = served_on + timedelta(days=appeal.days or 0)
    performance_due = appeal_due + timedelta(days=1 + performance_days)
    enforce = policy.deadlines["enforcement_application"]
    if enforce.years is not None:
        enforcement_due = add_years(performance_due, enforce.years)
    else:
        enforcement_due = performance_due + timedelta(days=enforce.days or 0)
    return {"appeal": appeal_due, "enforcement_application": enforcement_due,
            "performance_due_on": performance_due}


def whole_fen(value: object, field: str, *, positive: bool = False) -> int:
    """An amount given in whole fen, refused (naming the field) if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise InvalidInput(f"must be a {'positive' if positive else 'non-negative'} whole number of fen",
                           field=field, rule="legal.amount")
    return value


def settlement_terms(terms: object, total_fen: int) -> dict:
    """The settled plan as stored: instalments (ISO due date, positive fen) that add up to ``total_fen``, and
    the amount waived (default 0); other keys are kept as given for the agreement hook."""
    rows = terms.get("instalments") if isinstance(terms, dict) else None
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("the settled plan needs instalments [{due_on, amount_fen}]", field="terms.instalments",
                           rule="legal.settlement_terms")
    clean = []
    for i, row in enumerate(rows):
        try:
            due = date.fromisoformat(str(row["due_on"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("needs due_on YYYY-MM-DD", field=f"terms.instalments[{i}].due_on",
                               rule="legal.settlement_terms") from None
        clean.append({"due_on": due.isoformat(), "amount_fen": whole_fen(
            row.get("amount_fen"), f"terms.instalments[{i}].amount_fen", positive=True)})
    if sum(r["amount_fen"] for r in clean) != total_fen:
        raise InvalidInput("the instalments must add up to the settled total", field="terms.instalments",
                           rule="legal.settlement_total")
    assert isinstance(terms, dict)
    return {**terms, "instalments": clean,
            "waived_fen": whole_fen(terms.get("waived_fen", 0), "terms.waived_fen", positive=False)}
