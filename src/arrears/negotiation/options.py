"""Plan options for one loan (pure, fast): candidates within every limit, each valued and explained, ranked
by expected recovery among those the borrower can afford.

    PV(plan)          = Σ payment_k · (1 + d/12)^−m_k     (m_k: whole months from the plan date, at least 1)
    PV(failure)       = PV of the first ⌊n·failure_paid_share⌋ payments
                        + residual_recovery_share · (what is then still owed) · (1 + d/12)^−(m + residual months)
    expected recovery = P(complete) · PV(plan) + (1 − P(complete)) · PV(failure)

"What is still owed" on failure includes a conditional waiver, which comes back on breach; PV(failure) is
capped at PV(plan), since a failed plan is never worth more than a completed one. ``d`` is the
valuation discount rate (policy.yaml). An option is affordable when its largest payment is within the
sustainable monthly payment (a one-payment settlement: within liquid assets plus that payment).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from arrears.money import format_yuan, round_fen
from arrears.negotiation.affordability import Assessment
from arrears.negotiation.completion import CompletionModel, LogisticCompletionModel, features
from arrears.negotiation.config import Policy, policy
from arrears.negotiation.limits import max_periods, max_rate, required_authority, term_violations
from arrears.negotiation.plan import Amounts, Plan
from arrears.negotiation.terms import DebtContext, Terms, build_plan

PERCENT = Decimal("0.1")


@dataclass(frozen=True)
class Option:
    id: str
    plan: Plan
    terms: Terms
    monthly_payment_fen: int  # the largest instalment
    first_payment_fen: int
    total_to_pay_fen: int
    waived_fen: int
    payment_to_disposable: Decimal | None
    npv_fen: int
    p_complete: Decimal
    expected_recovery_fen: int
    affordable: bool | None  # None without an assessment
    required_authority: str | None  # least role that may approve; None = beyond every authority
    explanation_zh: str
    explanation_en: str


def option_id(t: Terms) -> str:
    return "o-" + hashlib.sha256(json.dumps(t.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def _waivers(ctx: DebtContext, share: Decimal) -> dict[str, Amounts]:
    d = ctx.debt
    return {
        "penalty_full": Amounts(penalty=d.penalty),
        "penalty_part": Amounts(penalty=round_fen(d.penalty * share, "down")),
        "penalty_fee_interest": Amounts(penalty=d.penalty, fee=d.fee, interest=d.interest),
    }


def _settlement_waiver(ctx: DebtContext, discount: Decimal) -> Amounts:
    """A discount of the total taken from penalty, then fees, interest and last principal."""
    left = round_fen(ctx.debt.total * discount, "down")
    parts: dict[str, int] = {}
    for c in ("penalty", "fee", "interest", "cost", "principal"):
        take = min(left, getattr(ctx.debt, c))
        parts[c], left = take, left - take
    return Amounts(**parts)


def candidate_terms(ctx: DebtContext, pol: Policy) -> list[Terms]:
    """The grid of candidate terms (policy.yaml options), clipped to the limits and deduplicated."""
    o = pol.options
    rate, top = ctx.contract_rate, max_periods(ctx)
    rate = min(rate, max_rate(ctx))
    periods = [n for n in o.periods if n <= top] or [top]
    long_ = [n for n in periods if n >= 12] or periods[-1:]
    w = _waivers(ctx, o.partial_waiver_share)
    remaining = max(ctx.remaining_periods, 1)
    out: list[Terms] = []
    out += [Terms(n, rate) for n in periods]
    out += [Terms(n, rate, waiver=w["penalty_full"]) for n in periods]
    out += [Terms(n, rate, waiver=w["penalty_part"]) for n in long_]
    out += [Terms(min(remaining, top), rate, waiver=w[k]) for k in w]
    out += [Terms(remaining + e, rate) for e in o.extension_months if remaining + e <= top]
    out += [Terms(n, rate * f) for n in long_[-3:] for f in o.rate_factors]
    out += [Terms(n, rate, holiday_months=h) for h in o.holiday_months for n in long_[:2]
            if h <= o.max_holiday_months]
    out += [Terms(n, rate, step_up_share=o.step_up_share) for n in long_[-3:]]
    out += [Terms(1, rate, waiver=_settlement_waiver(ctx, x), waiver_conditional=False, settlement=True)
            for x in o.settlement_discounts]
    h = min(o.holiday_months or (0,))
    out += [Terms(n, rate * o.rate_factors[0] if o.rate_factors else rate, holiday_months=h,
                  waiver=w["penalty_full"]) for n in long_[-2:]]
    out += [Terms(n, rate, step_up_share=o.step_up_share, waiver=w["penalty_fee_interest"]) for n in long_[-2:]]
    seen: dict[Terms, None] = {}  # equal terms (frozen, hashable) are one candidate; order kept
    for t in out:
        if t not in seen and not term_violations(ctx, t, o):
            seen[t] = None
    return list(seen)[: o.max_candidates]


@lru_cache(maxsize=64)
def _discount(rate: Decimal, months: int) -> Decimal:
    return (1 + rate / 12) ** -months


def _months(plan: Plan, k: int) -> int:
    return max(1, ((plan.schedule[k].due_on - plan.as_of).days + 15) // 30)


def _totals(plan: Plan) -> list[int]:
    return [a.principal + a.interest + a.penalty + a.fee + a.cost for a in (i.amounts for i in plan.schedule)]


def _factors(plan: Plan, d: Decimal) -> list[Decimal]:
    return [_discount(d, _months(plan, k)) for k in range(len(plan.schedule))]


def present_value(plan: Plan, d: Decimal, upto: int | None = None, totals: list[int] | None = None,
                  factors: list[Decimal] | None = None) -> Decimal:
    totals = totals or _totals(plan)
    factors = factors or _factors(plan, d)
    n = len(totals) if upto is None else upto
    return sum((totals[k] * factors[k] for k in range(n)), Decimal(0))


def failure_value(plan: Plan, pol: Policy, totals: list[int] | None = None,
                  factors: list[Decimal] | None = None) -> Decimal:
    v = pol.valuation
    totals = totals or _totals(plan)
    factors = factors or _factors(plan, v.discount_rate)
    m = int(len(totals) * v.failure_paid_share)
    owed = sum(totals[m:]) + (plan.waived if plan.waiver_conditional else 0)
    start = _months(plan, m - 1) if m else 0
    return present_value(plan, v.discount_rate, m, totals, factors) + \
        v.residual_recovery_share * owed * _discount(v.discount_rate, start + v.residual_recovery_months)


def affordable(plan: Plan, a: Assessment | None, largest: int | None = None) -> bool | None:
    if a is None:
        return None
    limit = a.sustainable_payment_fen + (a.liquid_assets_fen if len(plan.schedule) == 1 else 0)
    return (plan.max_payment if largest is None else largest) <= limit


def evaluate(ctx: DebtContext, t: Terms, a: Assessment | None, pol: Policy,
             model: CompletionModel | None = None, plan: Plan | None = None, memo: dict | None = None) -> Option:
    plan = plan or build_plan(ctx, t, pol.options, memo)
    model = model or LogisticCompletionModel(pol.completion)
    d = pol.valuation.discount_rate
    totals = _totals(plan)
    largest, total = max(totals), sum(totals)
    factors = _factors(plan, d)
    pv = present_value(plan, d, totals=totals, factors=factors)
    p = model.probability(features(plan, ctx, a, pol.completion.caps.get("burden", Decimal(3)), largest))
    # A failed plan is never worth more than a completed one (a reinstated waiver is rarely collected in full).
    expected = p * pv + (1 - p) * min(failure_value(plan, pol, totals, factors), pv)
    ratio = None
    if a is not None and a.disposable_fen > 0:
        ratio = (Decimal(largest) / a.disposable_fen).quantize(Decimal("0.0001"))
    ok = affordable(plan, a, largest)
    waived = plan.waived
    zh, en = explain(ctx, plan, p, round_fen(expected), ratio, ok, (totals[0], largest, total, waived))
    return Option(option_id(t), plan, t, largest, totals[0], total, waived,
                  ratio, round_fen(pv), p, round_fen(expected), ok,
                  required_authority(ctx, plan, pol.approval), zh, en)


def rank(options: list[Option]) -> list[Option]:
    """Affordable (or unknown) first, each group by expected recovery, then smaller waiver, then id."""
    return sorted(options, key=lambda o: (o.affordable is False, -o.expected_recovery_fen, o.waived_fen, o.id))


def generate_options(ctx: DebtContext, a: Assessment | None = None, pol: Policy | None = None,
                     model: CompletionModel | None = None) -> list[Option]:
    pol = pol or policy()
    model = model or LogisticCompletionModel(pol.completion)
    memo: dict = {}  # for this case only
    return rank([evaluate(ctx, t, a, pol, model, memo=memo) for t in candidate_terms(ctx, pol)])


_KIND_ZH = {"instalments": "分期还款", "extension": "展期", "waiver": "减免", "rate_reduction": "降低利率",
            "payment_holiday": "延期还款", "step_up": "阶梯还款", "settlement": "一次性结清", "combination": "组合方案"}


def _pct(x: Decimal) -> str:
    return str((x * 100).quantize(PERCENT))


def explain(ctx: DebtContext, plan: Plan, p: Decimal, expected: int, ratio: Decimal | None,
            ok: bool | None, figures: tuple[int, int, int, int]) -> tuple[str, str]:
    """Short Chinese and English texts; ``figures`` = (first payment, largest payment, total, waived)."""
    first, largest, total, waived = figures
    t = plan.params
    n, last = len(plan.schedule), plan.schedule[-1].due_on.isoformat()
    zh = [f"{_KIND_ZH[plan.kind]}：" + (f"{plan.schedule[0].due_on.isoformat()}前一次性还清{format_yuan(first)}元"
                                       if plan.kind == "settlement" else
                                       f"分{n}期，月供最高{format_yuan(largest)}元，{last}还清")]
    en = [f"{plan.kind}: " + (f"pay {format_yuan(first)} once by {plan.schedule[0].due_on.isoformat()}"
                             if plan.kind == "settlement" else
                             f"{n} instalments of at most {format_yuan(largest)}, paid off by {last}")]
    if t.get("holiday_months"):
        zh.append(f"前{t['holiday_months']}个月暂不还款")
        en.append(f"no payment for the first {t['holiday_months']} months")
    if plan.annual_rate < ctx.contract_rate and plan.kind != "settlement":
        zh.append(f"年利率降至{_pct(plan.annual_rate)}%")
        en.append(f"rate cut to {_pct(plan.annual_rate)}%")
    if waived:
        cond_zh = "（按期还清后生效，违约则恢复）" if plan.waiver_conditional else ""
        cond_en = " (kept only if the plan is completed)" if plan.waiver_conditional else ""
        zh.append(f"减免{format_yuan(waived)}元{cond_zh}")
        en.append(f"waives {format_yuan(waived)}{cond_en}")
    zh.append(f"共还{format_yuan(total)}元")
    en.append(f"total {format_yuan(total)}")
    if ratio is not None:
        zh.append(f"月供占可支配收入{_pct(ratio)}%")
        en.append(f"{_pct(ratio)}% of disposable income")
    if ok is False:
        zh.append("超出可承受还款额")
        en.append("above the sustainable payment")
    zh.append(f"预计完成概率{_pct(p)}%，预期回收{format_yuan(expected)}元")
    en.append(f"completion {_pct(p)}%, expected recovery {format_yuan(expected)}")
    return "；".join(zh) + "。", "; ".join(en) + "."
