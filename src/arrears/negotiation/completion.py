"""The probability that a plan is completed: a transparent logistic model (coefficients in ``policy.yaml``,
explained with their sources in docs/negotiation.md). Probabilities are Decimal, not money.

``CompletionModel`` is the interface; a model trained on the institution's outcomes can replace
``LogisticCompletionModel`` as long as it maps the same features to a probability.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Protocol

from arrears.negotiation.affordability import Assessment
from arrears.negotiation.config import Completion
from arrears.negotiation.plan import Plan
from arrears.negotiation.terms import DebtContext

FEATURES = ("payment_cut", "dpd_months", "burden", "term_years", "waiver_share", "conditional_waiver")
PLACES = Decimal("0.0001")
ZERO, ONE = Decimal(0), Decimal(1)


class CompletionModel(Protocol):
    def probability(self, features: dict[str, Decimal]) -> Decimal: ...


class LogisticCompletionModel:
    """p = 1 / (1 + e^−z), z = intercept + Σ coefficient × min(feature, cap)."""

    def __init__(self, cfg: Completion) -> None:
        self.cfg = cfg

    def score(self, features: dict[str, Decimal]) -> Decimal:
        z = self.cfg.intercept
        for name, coef in self.cfg.coefficients.items():
            value = features[name]
            cap = self.cfg.caps.get(name)
            z += coef * (min(value, cap) if cap is not None else value)
        return z

    def probability(self, features: dict[str, Decimal]) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = 28
            return (ONE / (ONE + (-self.score(features)).exp())).quantize(PLACES)


def capacity(plan: Plan, ctx: DebtContext, assessment: Assessment | None) -> int:
    """What the borrower can put towards the largest payment: disposable income (plus liquid assets for a
    one-payment plan); without an assessment, the contract's own monthly payment is taken as capacity."""
    if assessment is None:
        return ctx.baseline_payment_fen
    return max(assessment.disposable_fen, 0) + (assessment.liquid_assets_fen if len(plan.schedule) == 1 else 0)


def features(plan: Plan, ctx: DebtContext, assessment: Assessment | None, burden_cap: Decimal,
             largest: int | None = None) -> dict[str, Decimal]:
    payment = plan.max_payment if largest is None else largest
    cut = ZERO
    if len(plan.schedule) > 1 and ctx.baseline_payment_fen > 0:
        cut = max(ZERO, ONE - Decimal(payment) / ctx.baseline_payment_fen)
    cap = capacity(plan, ctx, assessment)
    burden = Decimal(payment) / cap if cap > 0 else burden_cap
    last = plan.schedule[-1].due_on if plan.schedule else plan.as_of
    return {
        "payment_cut": cut,
        "dpd_months": Decimal(ctx.dpd) / 30,
        "burden": min(burden, burden_cap),
        "term_years": Decimal((last - plan.as_of).days) / 365,
        "waiver_share": Decimal(plan.waived) / ctx.debt.total if ctx.debt.total else ZERO,
        "conditional_waiver": ONE if plan.waived and plan.waiver_conditional else ZERO,
    }
