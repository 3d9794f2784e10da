"""Request and response bodies of the negotiation API. Amounts in as yuan text or integer fen (never JSON
floats), out as ``{"fen", "yuan"}``; ratios and probabilities out as decimal text."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from arrears.loans.schemas import AmountIn, Money
from arrears.negotiation.affordability import Assessment, Statement
from arrears.negotiation.options import Option
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan
from arrears.negotiation.terms import Terms


def _rate_in(value: object) -> object:
    if isinstance(value, float):
        raise PydanticCustomError("rate.no_float", "send rates as decimal text (\"0.06\"), not JSON numbers with a "
                                  "decimal point")
    return value


RateIn = Annotated[Decimal, BeforeValidator(_rate_in)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatementIn(_In):
    incomes: dict[str, AmountIn] = Field(description="monthly income by source (wages, business, pension …)")
    expenses: dict[str, AmountIn] = Field(default_factory=dict, description="monthly expenses by category: "
                                          "housing, food, utilities, transport, education, medical, other_debts")
    dependants: int = 0
    region_code: str = Field(default="", max_length=12)
    assets: dict[str, AmountIn] = Field(default_factory=dict, description="cash, deposit, vehicle, property …")
    other_debts: AmountIn = 0

    def to_statement(self) -> Statement:
        return Statement(incomes=dict(self.incomes), expenses=dict(self.expenses), dependants=self.dependants,
                         region_code=self.region_code, assets=dict(self.assets), other_debts_fen=self.other_debts)


class HardshipIn(_In):
    statement: StatementIn
    hardship_kind: str = Field(description="illness, job_loss, business_failure, disaster or other")
    hardship_since: date
    description: str = Field(default="", max_length=4000)
    consent: bool = Field(description="the borrower agrees that this information is processed for the plan")


class ReviewIn(_In):
    decision: str = Field(description="verified or rejected")
    note: str = Field(default="", max_length=2000)
    version: int


class WaiverIn(_In):
    principal: AmountIn = 0
    interest: AmountIn = 0
    penalty: AmountIn = 0
    fee: AmountIn = 0
    cost: AmountIn = 0


class TermsIn(_In):
    periods: int = Field(ge=1, le=600)
    annual_rate: RateIn = Field(description="decimal text, e.g. \"0.06\"")
    holiday_months: int = Field(default=0, ge=0, le=120)
    step_up_share: RateIn | None = None
    waiver: WaiverIn = WaiverIn()
    waiver_conditional: bool = True
    settlement: bool = False

    def to_terms(self) -> Terms:
        from arrears.errors import InvalidInput
        w = self.waiver.model_dump()
        if any(v < 0 for v in w.values()):
            raise InvalidInput("a waiver cannot be negative", field="waiver", rule="non_negative")
        return Terms(self.periods, self.annual_rate, self.holiday_months, self.step_up_share, Amounts(**w),
                     self.waiver_conditional, self.settlement)


class OfferIn(_In):
    terms: TermsIn
    party: str | None = Field(default=None, description="staff recording a borrower's counter-offer: borrower")
    expires_in_hours: int | None = None
    counter_to_id: int | None = None


class NegotiationIn(_In):
    application_id: int | None = None


class EvidenceOut(BaseModel):
    id: int
    sha256: str
    media_type: str
    size_bytes: int


class HardshipOut(BaseModel):
    id: int
    loan_id: int
    status: str
    version: int
    hardship_kind: str
    hardship_since: date
    statement: dict
    description: str
    filed_by: str
    filed_by_borrower: bool
    consent_at: datetime
    reviewed_by: str | None
    evidence: list[EvidenceOut]


class AssessmentOut(BaseModel):
    income: Money
    declared_expenses: Money
    assessed_expenses: Money
    disposable: Money
    sustainable_payment: Money
    liquid_assets: Money
    region: str
    norms: dict[str, Money]
    flags: list[dict]
    ratios: dict[str, str | None]

    @classmethod
    def of(cls, a: Assessment) -> AssessmentOut:
        return cls(income=Money.of(a.income_fen), declared_expenses=Money.of(a.declared_expenses_fen),
                   assessed_expenses=Money.of(a.assessed_expenses_fen), disposable=Money.of(a.disposable_fen),
                   sustainable_payment=Money.of(a.sustainable_payment_fen), liquid_assets=Money.of(a.liquid_assets_fen),
                   region=a.region, norms={k: Money.of(v) for k, v in a.norm_fen.items()},
                   flags=[{"category": f.category, "direction": f.direction, "declared": Money.of(f.declared_fen),
                           "norm": Money.of(f.norm_fen)} for f in a.flags],
                   ratios={k: None if v is None else str(v) for k, v in a.ratios.items()})


def schedule_out(plan: Plan) -> list[dict]:
    return [{"seq": i.seq, "due_on": i.due_on.isoformat(), "total": Money.of(i.total).model_dump(),
             **{f"{c}_fen": getattr(i.amounts, c) for c in COMPONENTS}} for i in plan.schedule]


class OptionOut(BaseModel):
    id: str
    kind: str
    terms: dict
    monthly_payment: Money
    first_payment: Money
    total_to_pay: Money
    waived: Money
    waiver_conditional: bool
    payment_to_disposable: str | None
    npv: Money
    p_complete: str
    expected_recovery: Money
    affordable: bool | None
    required_authority: str | None
    explanation: str
    explanation_en: str
    schedule: list[dict]

    @classmethod
    def of(cls, o: Option) -> OptionOut:
        return cls(id=o.id, kind=o.plan.kind, terms=o.terms.to_dict(), monthly_payment=Money.of(o.monthly_payment_fen),
                   first_payment=Money.of(o.first_payment_fen), total_to_pay=Money.of(o.total_to_pay_fen),
                   waived=Money.of(o.waived_fen), waiver_conditional=o.plan.waiver_conditional,
                   payment_to_disposable=None if o.payment_to_disposable is None else str(o.payment_to_disposable),
                   npv=Money.of(o.npv_fen), p_complete=str(o.p_complete),
                   expected_recovery=Money.of(o.expected_recovery_fen), affordable=o.affordable,
                   required_authority=o.required_authority, explanation=o.explanation_zh,
                   explanation_en=o.explanation_en, schedule=schedule_out(o.plan))


class OptionsOut(BaseModel):
    loan_id: int
    as_of: date
    debt: dict[str, Money]
    dpd: int
    application_id: int | None
    application_status: str | None
    assessment: AssessmentOut | None
    options: list[OptionOut]


class VerdictOut(BaseModel):
    verdict: str
    violations: list[dict]
    required_authority: str | None
    proposal: OptionOut | None
    counter_offer: OptionOut | None


class OfferOut(BaseModel):
    id: int
    negotiation_id: int
    seq: int
    party: str
    made_by: str
    status: str
    version: int
    required_authority: str
    plan_sha256: str
    total_to_pay: Money
    waived: Money
    expires_at: datetime
    approved_by: str | None
    decided_by: str | None
    terms: dict
    plan: dict


class NegotiationOut(BaseModel):
    id: int
    loan_id: int
    status: str
    version: int
    rounds: int
    application_id: int | None
    accepted_offer_id: int | None
    offers: list[OfferOut] = []
    history: list[dict] = []
