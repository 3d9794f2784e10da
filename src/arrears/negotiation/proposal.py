"""A borrower's own proposal, judged at once by the same rules as generated options (pure).

- **not allowed**: it breaks a hard limit (law, product, policy) or is beyond every approval authority;
- **needs approval**: within the limits, but beyond the first role's authority (a supervisor must approve);
- **acceptable**: within the first role's authority.

Unless acceptable, the nearest acceptable counter-offer comes with it: the proposal clamped into the limits
(term, rate, holiday) with its waiver cut to the first role's authority (principal reduction first, then
interest, fees, and penalty last), or, if that still fails, the acceptable generated option whose largest
payment and waiver are closest to the proposal's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from arrears.money import round_fen
from arrears.negotiation.affordability import Assessment
from arrears.negotiation.completion import CompletionModel
from arrears.negotiation.config import Policy, policy
from arrears.negotiation.limits import Violation, max_periods, max_rate, term_violations
from arrears.negotiation.options import Option, evaluate, generate_options
from arrears.negotiation.plan import COMPONENTS, Amounts
from arrears.negotiation.terms import DebtContext, Terms, build_plan

CUT_ORDER = ("principal", "interest", "fee", "cost", "penalty")


@dataclass(frozen=True)
class Verdict:
    verdict: str  # acceptable | needs_approval | not_allowed
    violations: tuple[Violation, ...]
    option: Option | None  # the proposal itself, valued (None when it cannot be built)
    required_authority: str | None
    counter_offer: Option | None


def _cut_waiver(ctx: DebtContext, w: Amounts, pol: Policy) -> Amounts:
    lim = pol.approval.limits[pol.approval.order[0]]
    parts = {c: min(getattr(w, c), getattr(ctx.debt, c)) for c in COMPONENTS}
    parts["principal"] = min(parts["principal"], lim.max_principal_reduction_fen,
                             round_fen(lim.max_principal_reduction_share * ctx.debt.principal, "down"))
    cap = min(lim.max_waiver_fen, round_fen(lim.max_waiver_share * ctx.debt.total, "down"))
    excess = sum(parts.values()) - cap
    for c in CUT_ORDER:
        if excess <= 0:
            break
        take = min(excess, parts[c])
        parts[c] -= take
        excess -= take
    return Amounts(**parts)


def clamp(ctx: DebtContext, t: Terms, pol: Policy) -> Terms:
    o = pol.options
    first = pol.approval.limits[pol.approval.order[0]]
    top = max(1, min(max_periods(ctx), first.max_periods) - min(max(t.holiday_months, 0), o.max_holiday_months))
    rate = t.annual_rate if t.annual_rate.is_finite() else Decimal(0)
    step = t.step_up_share if t.step_up_share is not None and 0 < t.step_up_share < 1 else None
    periods = 1 if t.settlement else min(max(t.periods, 1), top)
    return replace(t, periods=periods, annual_rate=min(max(rate, Decimal(0)), max_rate(ctx)),
                   holiday_months=0 if t.settlement else min(max(t.holiday_months, 0), o.max_holiday_months),
                   step_up_share=None if t.settlement or periods < 2 else step, waiver=_cut_waiver(ctx, t.waiver, pol))


def evaluate_proposal(ctx: DebtContext, t: Terms, a: Assessment | None = None, pol: Policy | None = None,
                      model: CompletionModel | None = None) -> Verdict:
    pol = pol or policy()
    base = pol.approval.order[0]
    violations = term_violations(ctx, t, pol.options)
    option = None
    required = None
    if not violations:
        option = evaluate(ctx, t, a, pol, model, plan=build_plan(ctx, t, pol.options))
        required = option.required_authority
        if required is None:
            violations = [Violation("waiver", "approval.beyond_authority", "超出所有审批权限",
                                    "beyond every approval authority")]
    if not violations and required == base:
        return Verdict("acceptable", (), option, required, None)
    counter = _nearest(ctx, t, a, pol, option, model)
    return Verdict("not_allowed" if violations else "needs_approval", tuple(violations), option, required, counter)


def _nearest(ctx: DebtContext, t: Terms, a: Assessment | None, pol: Policy, option: Option | None,
             model: CompletionModel | None = None) -> Option | None:
    base = pol.approval.order[0]
    clamped = clamp(ctx, t, pol)
    if not term_violations(ctx, clamped, pol.options):
        candidate = evaluate(ctx, clamped, a, pol, model)
        if candidate.required_authority == base:
            return candidate
    target_payment = option.monthly_payment_fen if option else (ctx.debt.total // max(clamped.periods, 1))
    target_waived = option.waived_fen if option else t.waiver.total
    pool = [o for o in generate_options(ctx, a, pol, model) if o.required_authority == base]
    if not pool:
        return None
    return min(pool, key=lambda o: (abs(o.monthly_payment_fen - target_payment) + abs(o.waived_fen - target_waived),
                                    o.id))
