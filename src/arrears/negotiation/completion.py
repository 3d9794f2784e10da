"""The probability that a plan is completed: a transparent logistic model (coefficients in ``policy.yaml``,
explained with their sources in docs/negotiation.md). Probabilities are Decimal, not money.

``CompletionModel`` is the interface. ``completion_model`` chooses by configuration (``completion.model`` in
``policy.yaml``): ``trained`` uses the active trained completion model of the scores registry
(``scores.completion.TrainedCompletionModel``, through ``TrainedCompletion``) when one is active, else the
transparent model; ``transparent`` always uses the transparent model. An active model that does not match the
current feature schema is refused (409), not silently replaced.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from pathlib import Path
from typing import Protocol

from arrears.negotiation.affordability import Assessment
from arrears.negotiation.config import Completion
from arrears.negotiation.plan import Plan
from arrears.negotiation.terms import DebtContext

FEATURES = ("payment_cut", "dpd_months", "burden", "term_years", "waiver_share", "conditional_waiver")
PLACES = Decimal("0.0001")
SIX_PLACES = Decimal("0.000001")
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


class TrainedCompletion:
    """A trained model (``scores.completion.TrainedCompletionModel``) behind this interface: it reads the plan's
    terms as ``scores.completion.plan_features`` defines them (the ``plan_*`` entries of ``features``) and the
    loan's product, given when the adapter is made for a loan."""

    def __init__(self, trained, product_code: str) -> None:  # noqa: ANN001 (scores is imported lazily)
        self.trained, self.product_code = trained, product_code

    def probability(self, features: dict[str, Decimal]) -> Decimal:
        return self.trained.probability({
            "payment_relief": features["plan_payment_relief"], "plan_term": features["plan_term"],
            "waiver_share": features["plan_waiver_share"], "burden": features["plan_payment_ratio"],
            "dpd_at_restructuring": features["plan_dpd"], "product_code": self.product_code})


def completion_model(cfg: Completion, models_root: Path | None, product_code: str) -> CompletionModel:
    """The model options are valued with for a loan of ``product_code`` (see the module docstring)."""
    if cfg.model == "trained" and models_root is not None:
        from arrears.scores import registry  # NumPy and the registry only when a trained model may be used

        if "completion" in registry.active_versions(models_root):
            from arrears.scores.completion import TrainedCompletionModel

            return TrainedCompletion(TrainedCompletionModel.load(models_root), product_code)
    return LogisticCompletionModel(cfg)


def capacity(plan: Plan, ctx: DebtContext, assessment: Assessment | None) -> int:
    """What the borrower can put towards the largest payment: disposable income (plus liquid assets for a
    one-payment plan); without an assessment, the contract's own monthly payment is taken as capacity."""
    if assessment is None:
        return ctx.baseline_payment_fen
    return max(assessment.disposable_fen, 0) + (assessment.liquid_assets_fen if len(plan.schedule) == 1 else 0)


def features(plan: Plan, ctx: DebtContext, assessment: Assessment | None, burden_cap: Decimal,
             largest: int | None = None) -> dict[str, Decimal | None]:
    payment = plan.max_payment if largest is None else largest
    cut = ZERO
    if len(plan.schedule) > 1 and ctx.baseline_payment_fen > 0:
        cut = max(ZERO, ONE - Decimal(payment) / ctx.baseline_payment_fen)
    cap = capacity(plan, ctx, assessment)
    burden = Decimal(payment) / cap if cap > 0 else burden_cap
    last = plan.schedule[-1].due_on if plan.schedule else plan.as_of
    return {**_plan_terms(plan, ctx),
        "payment_cut": cut,
        "dpd_months": Decimal(ctx.dpd) / 30,
        "burden": min(burden, burden_cap),
        "term_years": Decimal((last - plan.as_of).days) / 365,
        "waiver_share": Decimal(plan.waived) / ctx.debt.total if ctx.debt.total else ZERO,
        "conditional_waiver": ONE if plan.waived and plan.waiver_conditional else ZERO,
    }


def _plan_terms(plan: Plan, ctx: DebtContext) -> dict[str, Decimal | None]:
    """The plan as a trained completion model reads it (``scores.completion.plan_features``: ratios to the
    contract's payment, 6 places); the ratios are None (the model's missing bin) without a contract payment."""
    old = Decimal(ctx.baseline_payment_fen)
    debt = Decimal(plan.debt.total) or ONE
    relief = (ONE - Decimal(plan.first_payment) / old).quantize(SIX_PLACES) if old > 0 else None
    ratio = (Decimal(plan.max_payment) / old).quantize(SIX_PLACES) if old > 0 else None
    return {"plan_payment_relief": relief, "plan_payment_ratio": ratio,
            "plan_term": Decimal(len(plan.schedule)), "plan_waiver_share": (plan.waived / debt).quantize(SIX_PLACES),
            "plan_dpd": Decimal(ctx.dpd)}
