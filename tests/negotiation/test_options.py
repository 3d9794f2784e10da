"""Generated plan options: every plan restates the debt exactly, respects every limit, is valued and ranked."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.loans.schedules import due_date
from arrears.negotiation.affordability import Statement, assess
from arrears.negotiation.completion import LogisticCompletionModel
from arrears.negotiation.config import policy
from arrears.negotiation.limits import max_periods, max_rate, term_violations
from arrears.negotiation.options import generate_options, rank
from arrears.negotiation.plan import COMPONENTS, KINDS
from arrears.negotiation.serial import plan_digest, plan_from_dict, plan_to_dict
from arrears.negotiation.terms import Terms, build_plan
from strategies import contexts

assessments = st.one_of(st.none(), st.builds(
    lambda income, housing, deposit: assess(Statement({"wages": income}, {"housing": housing},
                                                      assets={"deposit": deposit})),
    st.integers(0, 5_000_000), st.integers(0, 300_000), st.integers(0, 10_000_000)))


@settings(max_examples=30, deadline=None)
@given(contexts(), assessments)
def test_every_generated_plan_repays_exactly_what_it_says_and_respects_every_limit(ctx, a):
    pol = policy()
    options = generate_options(ctx, a, pol)
    assert options and len(options) <= pol.options.max_candidates
    legal_cap = ctx.legal.card_personalised_instalment_max_periods.periods
    for o in options:
        plan = o.plan.check()
        assert plan.kind in KINDS and plan.loan_id == ctx.loan_id and plan.as_of == ctx.as_of
        assert not term_violations(ctx, o.terms, pol.options)
        # the debt restated: per component, paid + waived = owed + what the plan adds (only new interest)
        for c in COMPONENTS:
            paid = sum(getattr(i.amounts, c) for i in plan.schedule)
            assert paid + getattr(plan.waiver, c) == getattr(ctx.debt, c) + getattr(plan.added, c)
            assert 0 <= getattr(plan.waiver, c) <= getattr(ctx.debt, c)
        assert plan.added.principal == plan.added.penalty == plan.added.fee == plan.added.cost == 0
        assert o.total_to_pay_fen == sum(i.total for i in plan.schedule) == \
            ctx.debt.total + plan.added.total - plan.waived
        assert o.waived_fen == plan.waived and o.monthly_payment_fen == max(i.total for i in plan.schedule)
        # limits: term (product and, for card personalised instalments, the law), rate, holiday, dates
        assert len(plan.schedule) <= max_periods(ctx) <= ctx.product.restructuring.max_periods
        if ctx.product.restructuring.personalised_instalment:
            assert len(plan.schedule) <= legal_cap
        assert Decimal(0) <= plan.annual_rate <= min(ctx.contract_rate, ctx.product.annual_rate_max,
                                                     ctx.legal.financial_loan_total_cost_cap.annual)
        assert plan.annual_rate <= max_rate(ctx)
        holiday = plan.params["holiday_months"]
        assert 0 <= holiday <= pol.options.max_holiday_months
        dates = [i.due_on for i in plan.schedule]
        assert dates == sorted(set(dates)) and dates[0] > ctx.as_of
        if plan.kind == "settlement":
            assert dates == [ctx.as_of + timedelta(days=pol.options.settlement_days)] and plan.added.total == 0
        else:
            assert dates[0] == due_date(ctx.as_of, 2 + holiday)
            assert all(later.month != earlier.month or later.year != earlier.year
                       for earlier, later in zip(dates, dates[1:]))
        if plan.annual_rate == 0:
            assert plan.added.total == 0
        # figures and a serialised copy that reads back identical
        assert Decimal(0) <= o.p_complete <= Decimal(1)
        assert 0 <= o.expected_recovery_fen <= o.npv_fen + 1
        assert o.npv_fen <= o.total_to_pay_fen
        back = plan_from_dict(plan_to_dict(plan))
        assert back == plan and plan_digest(back) == plan_digest(plan)
        assert o.explanation_zh.endswith("。") and "元" in o.explanation_zh


@settings(max_examples=20, deadline=None)
@given(contexts(), assessments)
def test_options_are_ranked_affordable_first_then_by_expected_recovery(ctx, a):
    options = generate_options(ctx, a)
    keys = [(o.affordable is False, -o.expected_recovery_fen) for o in options]
    assert keys == sorted(keys)
    assert rank(list(reversed(options))) == options
    if a is None:
        assert all(o.affordable is None for o in options)
    else:
        for o in options:
            limit = a.sustainable_payment_fen + (a.liquid_assets_fen if len(o.plan.schedule) == 1 else 0)
            assert o.affordable is (o.monthly_payment_fen <= limit)


@settings(max_examples=80, deadline=None)
@given(contexts(), st.integers(1, 60), st.integers(0, 6), st.booleans())
def test_any_terms_within_limits_build_a_plan_that_checks(ctx, periods, holiday, step):
    t = Terms(min(periods, max_periods(ctx)), max_rate(ctx), holiday_months=holiday,
              step_up_share=Decimal("0.5") if step and periods >= 2 else None)
    if term_violations(ctx, t, policy().options):
        return
    plan = build_plan(ctx, t, policy().options)
    assert sum(i.amounts.principal for i in plan.schedule) == ctx.debt.principal
    if step and len(plan.schedule) >= 2 and ctx.debt.principal >= 10_000 and plan.annual_rate > 0:
        assert plan.schedule[0].amounts.principal <= plan.schedule[-1].amounts.principal


def _features(**kw):
    base = {"payment_cut": Decimal("0.1"), "dpd_months": Decimal(2), "burden": Decimal("0.5"),
            "term_years": Decimal(2), "waiver_share": Decimal(0), "conditional_waiver": Decimal(0)}
    return {**base, **kw}


unit = st.decimals(min_value=0, max_value=Decimal("0.5"), places=3)


@given(unit, unit)
def test_completion_rises_with_payment_relief_and_falls_with_delinquency_and_burden(x, y):
    lo, hi = min(x, y), max(x, y)
    m = LogisticCompletionModel(policy().completion)
    assert m.probability(_features(payment_cut=lo)) <= m.probability(_features(payment_cut=hi))
    assert m.probability(_features(dpd_months=lo * 20)) >= m.probability(_features(dpd_months=hi * 20))
    assert m.probability(_features(burden=lo * 4)) >= m.probability(_features(burden=hi * 4))


def test_completion_model_matches_the_occ_figures_it_was_fitted_to():
    """DOMAIN §5: 60+ dpd after six months 54% with no payment cut and 24% with cuts of 20% or more; the
    intercept and payment_cut coefficient reproduce those as 1 − redefault (reference features at zero)."""
    m = LogisticCompletionModel(policy().completion)
    zero = {k: Decimal(0) for k in _features()}
    assert abs(m.probability(zero) - Decimal("0.46")) < Decimal("0.01")
    assert abs(m.probability({**zero, "payment_cut": Decimal("0.3")}) - Decimal("0.76")) < Decimal("0.02")


def test_the_seed_case_offers_every_kind_of_relief():
    from arrears.negotiation.bench import bench_case
    ctx, a = bench_case()
    options = generate_options(ctx, a)
    kinds = {o.plan.kind for o in options}
    assert {"instalments", "extension", "waiver", "rate_reduction", "payment_holiday", "step_up", "settlement",
            "combination"} <= kinds
    assert 40 <= len(options) <= 60
    best = options[0]
    assert best.affordable and best.expected_recovery_fen == max(o.expected_recovery_fen for o in options
                                                                  if o.affordable)
    assert date(2026, 3, 10) < best.plan.schedule[0].due_on
