"""Affordability (pure): what is left of a household's income after essential expenses, and how much of it
a plan may take each month.

    disposable = income − Σ assessed essential expenses (other debts' monthly payments included)
    sustainable payment = round(max(disposable, 0) × sustainable_share)

A declared expense far above its norm (region × household size, ``norms.yaml``) is flagged and counted at
``flag_above`` × norm, so an inflated figure cannot argue the payment down; one far below is flagged as
possibly understated and counted as declared. ``other_debts`` has no norm: it is counted as declared.
Money is int fen; ratios are Decimal to 4 places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from arrears.errors import InvalidInput
from arrears.money import round_fen
from arrears.negotiation.config import EXPENSE_CATEGORIES, NORMED, Norms, Policy, norms, policy

RATIO = Decimal("0.0001")
MAX_HOUSEHOLD = 20


@dataclass(frozen=True)
class Statement:
    """A household's monthly financial statement (all fen)."""

    incomes: dict[str, int]
    expenses: dict[str, int]
    dependants: int = 0
    region_code: str = ""
    assets: dict[str, int] = field(default_factory=dict)
    other_debts_fen: int = 0  # balances owed elsewhere (their monthly payments are in expenses.other_debts)

    @property
    def household_size(self) -> int:
        return 1 + self.dependants


@dataclass(frozen=True)
class Flag:
    category: str
    direction: str  # above | below
    declared_fen: int
    norm_fen: int


@dataclass(frozen=True)
class Assessment:
    income_fen: int
    declared_expenses_fen: int
    assessed_expenses_fen: int
    disposable_fen: int
    sustainable_payment_fen: int
    liquid_assets_fen: int
    norm_fen: dict[str, int]
    region: str
    flags: tuple[Flag, ...]
    ratios: dict[str, Decimal | None]


def _amount(value: object, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number of fen", field=name, rule="fen_int")
    if value < 0:
        raise InvalidInput(f"{name} must not be negative", field=name, rule="non_negative")
    if value > limit:
        raise InvalidInput(f"{name} is beyond any plausible monthly figure ({limit} fen)", field=name,
                           rule="affordability.absurd_amount")
    return value


def validate_statement(st: Statement, pol: Policy | None = None) -> Statement:
    """Raises InvalidInput naming the field for negative, absurd or unknown figures."""
    limit = (pol or policy()).affordability.max_monthly_fen
    if not st.incomes:
        raise InvalidInput("at least one income source (0 if none)", field="incomes", rule="required")
    for name, value in st.incomes.items():
        _amount(value, f"incomes.{name}", limit)
    for name, value in st.expenses.items():
        if name not in EXPENSE_CATEGORIES:
            raise InvalidInput(f"unknown expense category {name!r}; use {', '.join(EXPENSE_CATEGORIES)}",
                               field=f"expenses.{name}", rule="expense_category")
        _amount(value, f"expenses.{name}", limit)
    for name, value in st.assets.items():
        _amount(value, f"assets.{name}", limit * 1000)
    _amount(st.other_debts_fen, "other_debts_fen", limit * 1000)
    if isinstance(st.dependants, bool) or not isinstance(st.dependants, int) or \
            not 0 <= st.dependants < MAX_HOUSEHOLD:
        raise InvalidInput(f"dependants must be 0–{MAX_HOUSEHOLD - 1}", field="dependants", rule="range")
    return st


def household_norms(st: Statement, nm: Norms | None = None) -> tuple[str, dict[str, int]]:
    """(region group, monthly norm per category in fen) for the statement's region and household size."""
    nm = nm or norms()
    region = nm.region_for(st.region_code)
    scale = (nm.equivalence.first + nm.equivalence.each_further * (st.household_size - 1)) * nm.regions[region].factor
    return region, {c: round_fen(Decimal(nm.per_person_fen[c]) * scale) for c in NORMED}


def _ratio(num: int, den: int) -> Decimal | None:
    return (Decimal(num) / Decimal(den)).quantize(RATIO) if den > 0 else None


def assess(st: Statement, pol: Policy | None = None, nm: Norms | None = None) -> Assessment:
    pol = pol or policy()
    validate_statement(st, pol)
    cfg = pol.affordability
    region, norm = household_norms(st, nm)
    income = sum(st.incomes.values())
    declared = sum(st.expenses.values())
    flags: list[Flag] = []
    assessed = 0
    for category in EXPENSE_CATEGORIES:
        value = st.expenses.get(category, 0)
        if category in norm:
            cap = round_fen(Decimal(norm[category]) * cfg.flag_above)
            if value > cap:
                flags.append(Flag(category, "above", value, norm[category]))
                value = cap
            elif category in st.expenses and value < round_fen(Decimal(norm[category]) * cfg.flag_below):
                flags.append(Flag(category, "below", value, norm[category]))
        assessed += value
    disposable = income - assessed
    sustainable = round_fen(Decimal(max(disposable, 0)) * cfg.sustainable_share, "down")
    liquid = sum(v for k, v in st.assets.items() if k in cfg.liquid_asset_kinds)
    ratios = {
        "expenses_to_income": _ratio(assessed, income),
        "other_debts_to_income": _ratio(st.expenses.get("other_debts", 0), income),
        "disposable_to_income": _ratio(disposable, income),
        "sustainable_to_disposable": _ratio(sustainable, disposable),
    }
    return Assessment(income, declared, assessed, disposable, sustainable, liquid, norm, region, tuple(flags), ratios)
