"""A borrower's own proposal: acceptable, needs approval or not allowed, with the nearest acceptable counter-offer."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.negotiation.bench import bench_case
from arrears.negotiation.config import policy
from arrears.negotiation.limits import max_periods, required_authority, term_violations
from arrears.negotiation.plan import Amounts
from arrears.negotiation.proposal import evaluate_proposal
from arrears.negotiation.terms import Terms
from strategies import contexts

CTX, A = bench_case()  # inclusive loan: 30,000 principal at 12%, penalty 120, interest 450, fee 50; max 48 periods


def test_a_plain_instalment_plan_within_the_negotiators_authority_is_acceptable():
    v = evaluate_proposal(CTX, Terms(24, Decimal("0.12")), A)
    assert v.verdict == "acceptable" and v.counter_offer is None and not v.violations
    assert v.required_authority == "negotiator" and v.option is not None and v.option.plan.check()


def test_a_larger_waiver_needs_a_supervisor_and_comes_with_an_acceptable_counter_offer():
    waiver = Amounts(principal=600_000, penalty=CTX.debt.penalty)  # principal reduction: beyond a negotiator
    v = evaluate_proposal(CTX, Terms(24, Decimal("0.12"), waiver=waiver), A)
    assert v.verdict == "needs_approval" and v.required_authority == "supervisor" and not v.violations
    counter = v.counter_offer
    assert counter is not None and counter.required_authority == "negotiator"
    assert counter.plan.waiver.principal == 0 and counter.plan.waiver.penalty == CTX.debt.penalty
    assert counter.terms.periods == 24


def test_terms_beyond_the_law_or_product_are_not_allowed_and_the_counter_offer_is_clamped_into_them():
    top = max_periods(CTX)
    v = evaluate_proposal(CTX, Terms(top + 12, Decimal("0.30"), holiday_months=12), A)
    assert v.verdict == "not_allowed"
    assert {x.rule for x in v.violations} == {"plan.max_periods", "plan.max_rate", "plan.max_holiday"}
    c = v.counter_offer
    assert c is not None and not term_violations(CTX, c.terms, policy().options)
    assert c.plan.annual_rate <= CTX.contract_rate and c.terms.holiday_months <= policy().options.max_holiday_months
    assert len(c.plan.schedule) <= top


def test_beyond_every_authority_is_not_allowed():
    waiver = Amounts(principal=CTX.debt.principal // 2)  # half the principal: above a supervisor's 30%
    v = evaluate_proposal(CTX, Terms(12, Decimal("0.12"), waiver=waiver), A)
    assert v.verdict == "not_allowed" and [x.rule for x in v.violations] == ["approval.beyond_authority"]
    assert v.counter_offer is not None and v.counter_offer.required_authority == "negotiator"


@settings(max_examples=40, deadline=None)
@given(contexts(), st.integers(1, 80), st.integers(0, 3000), st.integers(0, 12), st.integers(0, 10**7),
       st.integers(0, 10**6))
def test_every_verdict_follows_the_rules_and_every_counter_offer_is_acceptable(ctx, periods, rate_bp, holiday,
                                                                               principal_cut, penalty_cut):
    pol = policy()
    t = Terms(periods, Decimal(rate_bp) / 10000, holiday_months=holiday,
              waiver=Amounts(principal=principal_cut, penalty=penalty_cut))
    v = evaluate_proposal(ctx, t, None, pol)
    hard = term_violations(ctx, t, pol.options)
    if hard:
        assert v.verdict == "not_allowed" and v.option is None
    else:
        assert v.option is not None
        need = required_authority(ctx, v.option.plan, pol.approval)
        expected = {None: "not_allowed", "negotiator": "acceptable"}.get(need, "needs_approval")
        assert v.verdict == expected
    if v.verdict == "acceptable":
        assert v.counter_offer is None
    elif v.counter_offer is not None:
        c = v.counter_offer
        assert not term_violations(ctx, c.terms, pol.options) and c.required_authority == "negotiator"
        c.plan.check()
