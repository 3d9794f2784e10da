"""The limits every plan must respect (pure), and the approval authority it needs.

``term_violations`` are hard limits — the law, the product catalogue and policy; a plan that breaks one is
not allowed whoever approves it. ``required_authority`` names the least role (``policy.yaml`` approval
order) whose limits cover the plan's waiver, term and principal reduction, or None when no role's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from arrears.negotiation.config import Approval, Options, RoleLimits
from arrears.negotiation.plan import COMPONENTS, Plan
from arrears.negotiation.terms import DebtContext, Terms


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message_zh: str
    message_en: str


def max_periods(ctx: DebtContext) -> int:
    """The product's restructuring limit, and for a personalised card instalment the legal one as well."""
    limit = ctx.product.restructuring.max_periods
    if ctx.product.restructuring.personalised_instalment:
        limit = min(limit, ctx.legal.card_personalised_instalment_max_periods.periods)
    return limit


def max_rate(ctx: DebtContext) -> Decimal:
    """A plan never raises the rate: at most the contract rate, the product's maximum and the legal caps."""
    caps = [ctx.contract_rate, ctx.product.annual_rate_max, ctx.legal.financial_loan_total_cost_cap.annual]
    if ctx.product.penalty.caps.total_cost_annual is not None:
        caps.append(ctx.product.penalty.caps.total_cost_annual)
    if not ctx.product.licensed or ctx.product.penalty.caps.lpr_multiple:
        caps.append(ctx.legal.one_year_lpr.rate * ctx.legal.private_lending_cap_lpr_multiple.multiple)
    return min(caps)


def term_violations(ctx: DebtContext, t: Terms, opts: Options) -> list[Violation]:
    out: list[Violation] = []
    limit = max_periods(ctx)
    if t.periods < 1 or t.periods > limit:
        out.append(Violation("periods", "plan.max_periods", f"期数须在 1 至 {limit} 期之间",
                             f"periods must be 1 to {limit} (product and legal limit)"))
    cap = max_rate(ctx)
    if not t.annual_rate.is_finite() or t.annual_rate < 0 or t.annual_rate > cap:
        out.append(Violation("annual_rate", "plan.max_rate", f"年利率须在 0 至 {cap} 之间（不得高于原合同利率和法定上限）",
                             f"annual rate must be 0 to {cap} (never above the contract rate or legal caps)"))
    if t.holiday_months < 0 or t.holiday_months > opts.max_holiday_months:
        out.append(Violation("holiday_months", "plan.max_holiday", f"还款宽限期最长 {opts.max_holiday_months} 个月",
                             f"payment holiday at most {opts.max_holiday_months} months"))
    for c in COMPONENTS:
        if getattr(t.waiver, c) > getattr(ctx.debt, c):
            out.append(Violation(f"waiver.{c}", "plan.waiver_within_debt", "减免金额不得超过所欠金额",
                                 f"waiver of {c} exceeds what is owed"))
    if t.waiver.total >= ctx.debt.total and ctx.debt.total > 0:
        out.append(Violation("waiver", "plan.something_to_pay", "减免后须仍有应还金额",
                             "a plan must leave something to pay"))
    if t.settlement and (t.periods != 1 or t.holiday_months or t.step_up_share is not None):
        out.append(Violation("settlement", "plan.settlement_single_payment", "一次性结清只能为一期",
                             "a settlement is one payment without holiday or step-up"))
    if t.step_up_share is not None and (t.periods < 2 or not 0 < t.step_up_share < 1):
        out.append(Violation("step_up_share", "plan.step_up", "阶梯还款至少两期，前期比例须在 0 与 1 之间",
                             "step-up needs at least 2 periods and a share strictly between 0 and 1"))
    return out


def within(limits: RoleLimits, ctx: DebtContext, plan: Plan) -> bool:
    debt = ctx.debt
    waived, principal = plan.waived, plan.waiver.principal
    return (waived <= limits.max_waiver_fen
            and (debt.total == 0 or Decimal(waived) <= limits.max_waiver_share * debt.total)
            and len(plan.schedule) + int(plan.params.get("holiday_months", 0)) <= limits.max_periods
            and principal <= limits.max_principal_reduction_fen
            and (debt.principal == 0 or Decimal(principal) <= limits.max_principal_reduction_share * debt.principal))


def required_authority(ctx: DebtContext, plan: Plan, approval: Approval) -> str | None:
    for role in approval.order:
        if within(approval.limits[role], ctx, plan):
            return role
    return None


def may_decide(role: str, required: str, approval: Approval) -> bool:
    """Whether ``role`` carries at least the ``required`` authority."""
    own = approval.authority_of(role)
    return own is not None and approval.order.index(own) >= approval.order.index(required)
