"""Product definitions: what each product's YAML must say, and the checks made at load.

A product names its repayment methods, interest basis, rounding, penalty rule, grace, allocation
order, bucket and classification schemes, restructuring limits and compliance profile. Numbers the
law bounds (penalty markup, caps, instalment terms) are checked against ``legal.yaml``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arrears.money import ROUNDING_MODES


class RepaymentMethod(StrEnum):
    equal_instalment = "equal_instalment"  # 等额本息
    equal_principal = "equal_principal"  # 等额本金
    interest_only = "interest_only"  # 先息后本
    bullet = "bullet"  # 到期一次还本付息
    card_statement = "card_statement"  # 信用卡账单分期 / 最低还款


class Component(StrEnum):
    """What an instalment is made of, and what a payment can be allocated to."""

    cost = "cost"  # costs of enforcing the claim (民法典 Art. 561 (1))
    fee = "fee"
    penalty = "penalty"  # 罚息 / 违约金
    interest = "interest"
    principal = "principal"


COMPONENTS: tuple[Component, ...] = tuple(Component)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourcedNumber(_Strict):
    source: str
    verified: Literal["primary", "secondary", "unverified"] = "secondary"


class LegalLimits(BaseModel):
    """legal.yaml: each number with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    class Markup(SourcedNumber):
        min: Decimal
        max: Decimal

    class Rate(SourcedNumber):
        rate: Decimal
        as_of: str | None = None

    class Multiple(SourcedNumber):
        multiple: Decimal

    class Annual(SourcedNumber):
        annual: Decimal

    class Days(SourcedNumber):
        days: int

    class Periods(SourcedNumber):
        periods: int

    penalty_markup: Markup
    one_year_lpr: Rate
    private_lending_cap_lpr_multiple: Multiple
    financial_loan_total_cost_cap: Annual
    card_principal_first_after_dpd: Days
    card_personalised_instalment_max_periods: Periods
    card_default_fee_rate: Rate


class CardTerms(_Strict):
    min_payment_share: Decimal = Field(gt=0, le=1)
    min_payment_floor_fen: int = Field(ge=0)
    statement_to_due_days: int = Field(ge=0, le=60)


class PenaltyCaps(_Strict):
    total_cost_annual: Decimal | None = Field(default=None, gt=0)
    lpr_multiple: bool = False  # cap everything at 4 × one-year LPR (non-licensed lending)


class PenaltyRule(_Strict):
    kind: Literal["rate_markup", "card_default_fee", "none"]
    markup: Decimal | None = None  # penalty rate = contract rate × (1 + markup)
    default_fee_rate: Decimal | None = None  # card 违约金 as share of the unpaid minimum payment
    compound: bool = False  # compound interest at the penalty rate on overdue interest
    caps: PenaltyCaps = PenaltyCaps()

    @model_validator(mode="after")
    def _fields_for_kind(self) -> PenaltyRule:
        if self.kind == "rate_markup" and self.markup is None:
            raise ValueError("penalty.markup is required when penalty.kind is rate_markup")
        if self.kind == "card_default_fee" and self.default_fee_rate is None:
            raise ValueError("penalty.default_fee_rate is required when penalty.kind is card_default_fee")
        return self


class AllocationRule(_Strict):
    sequence: Literal["instalment_first", "component_first"]
    order: tuple[Component, ...]
    principal_first_after_dpd: int | None = Field(default=None, ge=1)

    @field_validator("order")
    @classmethod
    def _every_component_once(cls, order: tuple[Component, ...]) -> tuple[Component, ...]:
        if sorted(order) != sorted(COMPONENTS):
            raise ValueError(f"allocation.order must list each of {[c.value for c in COMPONENTS]} exactly once")
        return order


class RestructuringLimits(_Strict):
    max_periods: int = Field(ge=1, le=360)
    max_renegotiations: int = Field(ge=0, le=10)
    personalised_instalment: bool = False
    stop_collection_on_agreement: bool = False


class Product(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    kind: Literal["credit_card", "consumer_loan", "internet_loan", "inclusive_loan", "micro_business_loan"]
    name_zh: str
    name_en: str
    licensed: bool = True
    repayment_methods: tuple[RepaymentMethod, ...] = Field(min_length=1)
    interest_basis: Literal["monthly_30_360", "daily_360", "daily_365"]
    annual_rate_max: Decimal = Field(gt=0, le=1)
    rounding: str = "half_up"
    grace_days: int = Field(ge=0, le=30)
    holiday_rule: Literal["none", "next_business_day"]
    card: CardTerms | None = None
    penalty: PenaltyRule
    allocation: AllocationRule
    buckets: str
    classification: str
    restructuring: RestructuringLimits
    compliance_profile: Literal["cn-bank", "cn-internet", "us-regf"]

    @field_validator("rounding")
    @classmethod
    def _known_rounding(cls, mode: str) -> str:
        if mode not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {sorted(ROUNDING_MODES)}")
        return mode

    @model_validator(mode="after")
    def _card_fields(self) -> Product:
        is_card = RepaymentMethod.card_statement in self.repayment_methods
        if is_card and self.card is None:
            raise ValueError("a card_statement product needs a card: section")
        return self

    def check_legal(self, legal: LegalLimits, bucket_schemes: set[str], class_schemes: set[str]) -> None:
        """Cross-checks against legal.yaml and the scheme names; raises ValueError naming the field."""
        problems: list[str] = []
        if self.penalty.kind == "rate_markup" and self.penalty.markup is not None:
            lo, hi = legal.penalty_markup.min, legal.penalty_markup.max
            if not lo <= self.penalty.markup <= hi:
                problems.append(f"penalty.markup {self.penalty.markup} outside {lo}–{hi} ({legal.penalty_markup.source})")
        if self.restructuring.personalised_instalment:
            cap = legal.card_personalised_instalment_max_periods.periods
            if self.restructuring.max_periods > cap:
                problems.append(f"restructuring.max_periods {self.restructuring.max_periods} exceeds {cap} "
                                f"({legal.card_personalised_instalment_max_periods.source})")
        if not self.licensed and not self.penalty.caps.lpr_multiple:
            problems.append("a non-licensed product must set penalty.caps.lpr_multiple "
                            f"({legal.private_lending_cap_lpr_multiple.source})")
        if self.buckets not in bucket_schemes:
            problems.append(f"buckets: unknown scheme {self.buckets!r}; known {sorted(bucket_schemes)}")
        if self.classification not in class_schemes:
            problems.append(f"classification: unknown scheme {self.classification!r}; known {sorted(class_schemes)}")
        if problems:
            raise ValueError(f"product {self.code}: " + "; ".join(problems))
