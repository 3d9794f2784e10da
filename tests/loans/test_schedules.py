"""Reference schedules: hand-checked examples and properties over random loans."""

from __future__ import annotations

import calendar as stdlib_calendar
import itertools
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import InvalidInput
from arrears.loans.model import LoanTerms
from arrears.loans.schedules import generate_schedule
from arrears.products.catalog import catalog
from arrears.products.model import Product, RepaymentMethod

M = RepaymentMethod
BASES = ("monthly_30_360", "daily_360", "daily_365")
MODES = ("half_up", "half_even", "down", "up")


def product(code: str, **changes: object) -> Product:
    return catalog().product(code).model_copy(update=changes)


def terms(principal: int, rate: str, term: int, method: M, disbursed: date, first_due: date) -> LoanTerms:
    return LoanTerms(principal, Decimal(rate), term, method, disbursed, first_due)


# ---- hand-checked examples -------------------------------------------------------------------------

def test_equal_instalment_120k_yuan_at_4_35_percent_over_12_months():
    loan = terms(12_000_000, "0.0435", 12, M.equal_instalment, date(2025, 1, 15), date(2025, 2, 15))
    schedule = generate_schedule(loan, product("consumer_loan"))
    # P·r(1+r)^n/((1+r)^n−1) with r = 0.003625: 10,237.19 yuan, the figure bank calculators show.
    with localcontext() as ctx:
        ctx.prec = 50
        r = Decimal("0.0435") / 12
        growth = (1 + r) ** 12
        by_hand = (12_000_000 * r * growth / (growth - 1)).quantize(Decimal(1), ROUND_HALF_UP)
    assert by_hand == 1_023_719
    assert [i.total_fen for i in schedule[:-1]] == [1_023_719] * 11
    assert (schedule[0].interest_fen, schedule[0].principal_fen) == (43_500, 980_219)  # 12,000,000 × 0.003625
    assert (schedule[-1].principal_fen, schedule[-1].interest_fen) == (1_020_019, 3_698)
    assert sum(i.principal_fen for i in schedule) == 12_000_000
    assert [i.due_on for i in schedule][-1] == date(2026, 1, 15)


def test_equal_instalment_at_zero_rate_splits_principal_and_last_absorbs():
    loan = terms(1_000, "0", 3, M.equal_instalment, date(2025, 1, 1), date(2025, 2, 1))
    schedule = generate_schedule(loan, product("consumer_loan"))
    assert [(i.principal_fen, i.interest_fen) for i in schedule] == [(333, 0), (333, 0), (334, 0)]


def test_equal_principal_120k_yuan():
    loan = terms(12_000_000, "0.0435", 12, M.equal_principal, date(2025, 1, 15), date(2025, 2, 15))
    schedule = generate_schedule(loan, product("inclusive_loan"))
    assert [i.principal_fen for i in schedule] == [1_000_000] * 12
    assert [i.interest_fen for i in schedule[:3]] == [43_500, 39_875, 36_250]
    assert schedule[-1].interest_fen == 3_625
    assert sum(i.interest_fen for i in schedule) == 3_625 * 78  # 0.003625 × 1,000,000 × (12+11+…+1)


def test_interest_only_pays_principal_at_the_end():
    loan = terms(5_000_000, "0.06", 6, M.interest_only, date(2025, 3, 10), date(2025, 4, 10))
    schedule = generate_schedule(loan, product("micro_business_loan"))
    assert [i.interest_fen for i in schedule] == [25_000] * 6
    assert [i.principal_fen for i in schedule] == [0] * 5 + [5_000_000]


def test_bullet_monthly_and_daily_bases():
    monthly = terms(1_000_000, "0.12", 3, M.bullet, date(2025, 1, 10), date(2025, 4, 10))
    [only] = generate_schedule(monthly, product("internet_loan"))
    assert (only.seq, only.due_on, only.principal_fen, only.interest_fen) == (1, date(2025, 4, 10), 1_000_000, 30_000)
    [daily] = generate_schedule(monthly, product("internet_loan", interest_basis="daily_365"))
    assert daily.interest_fen == 29_589  # 1,000,000 × 0.12 × 90/365 = 29,589.04
    [daily_360] = generate_schedule(monthly, product("internet_loan", interest_basis="daily_360"))
    assert daily_360.interest_fen == 30_000  # × 90/360


def test_card_statement_minimum_payments_until_paid_off():
    loan = terms(1_000_000, "0.18", 60, M.card_statement, date(2025, 1, 15), date(2025, 2, 15))
    schedule = generate_schedule(loan, product("credit_card"))
    # cycle 1: 31 days, 1,000,000 × 0.18 × 31/360 = 15,500; minimum 10% = 100,000 (floor 10,000)
    assert (schedule[0].principal_fen, schedule[0].interest_fen) == (100_000, 15_500)
    # cycle 2: 900,000 over 28 days (February) = 12,600
    assert (schedule[1].principal_fen, schedule[1].interest_fen) == (90_000, 12_600)
    assert schedule[22].principal_fen == 10_000  # 10% has fallen under the 100-yuan floor
    assert len(schedule) == 32 and schedule[-1].principal_fen == 8_476
    assert sum(i.principal_fen for i in schedule) == 1_000_000


def test_card_statement_last_cycle_takes_the_rest_when_term_is_reached():
    loan = terms(1_000_000, "0.18", 3, M.card_statement, date(2025, 1, 15), date(2025, 2, 15))
    schedule = generate_schedule(loan, product("credit_card"))
    assert [i.principal_fen for i in schedule] == [100_000, 90_000, 810_000]


def test_due_dates_anchor_on_the_first_due_day_and_clip_to_month_end():
    loan = terms(400_000, "0.1", 4, M.equal_principal, date(2024, 1, 1), date(2024, 1, 31))
    dues = [i.due_on for i in generate_schedule(loan, product("consumer_loan"))]
    assert dues == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


@pytest.mark.parametrize(("mode", "expected"), [("half_up", 1), ("half_even", 0), ("down", 0), ("up", 1)])
def test_rounding_mode_comes_from_the_product(mode, expected):
    # 100 fen × 0.06 / 12 = 0.5 fen: exactly half, so the modes disagree
    loan = terms(100, "0.06", 2, M.interest_only, date(2025, 1, 1), date(2025, 2, 1))
    schedule = generate_schedule(loan, product("inclusive_loan", rounding=mode))
    assert [i.interest_fen for i in schedule] == [expected, expected]


def test_tiny_loan_rounded_up_never_goes_below_zero():
    loan = terms(13, "0", 12, M.equal_instalment, date(2025, 1, 1), date(2025, 2, 1))
    schedule = generate_schedule(loan, product("consumer_loan", rounding="up"))
    assert [i.principal_fen for i in schedule] == [2] * 6 + [1] + [0] * 5


@pytest.mark.parametrize(("change", "field"), [
    ({"principal_fen": 0}, "principal_fen"),
    ({"principal_fen": -5}, "principal_fen"),
    ({"annual_rate": Decimal("0.25")}, "annual_rate"),
    ({"annual_rate": Decimal("-0.01")}, "annual_rate"),
    ({"annual_rate": 0.05}, "annual_rate"),
    ({"term": 0}, "term"),
    ({"term": 361}, "term"),
    ({"method": M.bullet}, "method"),
    ({"first_due_on": date(2025, 1, 15)}, "first_due_on"),
])
def test_invalid_terms_are_refused_naming_the_field(change, field):
    base = {"principal_fen": 100_000, "annual_rate": Decimal("0.1"), "term": 12, "method": M.equal_instalment,
            "disbursed_on": date(2025, 1, 15), "first_due_on": date(2025, 2, 15)}
    with pytest.raises(InvalidInput) as caught:
        generate_schedule(LoanTerms(**(base | change)), product("consumer_loan"))
    assert caught.value.field == field and caught.value.rule


# ---- properties ------------------------------------------------------------------------------------

@st.composite
def loans(draw: st.DrawFn) -> tuple[LoanTerms, Product]:
    base = draw(st.sampled_from(sorted(catalog().products)))
    prod = product(base, rounding=draw(st.sampled_from(MODES)), interest_basis=draw(st.sampled_from(BASES)))
    method = draw(st.sampled_from(prod.repayment_methods))
    rate_micro = draw(st.integers(0, int(prod.annual_rate_max * 1_000_000)))
    disbursed = draw(st.dates(date(2000, 1, 1), date(2060, 12, 31)))
    first_due = disbursed + timedelta(days=draw(st.integers(1, 62)))
    loan = LoanTerms(principal_fen=draw(st.integers(1, 10**11)), annual_rate=Decimal(rate_micro) / 1_000_000,
                     term=draw(st.one_of(st.integers(1, 36), st.integers(1, 360))), method=method,
                     disbursed_on=disbursed, first_due_on=first_due)
    return loan, prod


def exact_interest(remaining: int, loan: LoanTerms, prod: Product, start: date, end: date) -> Fraction:
    rate = Fraction(str(loan.annual_rate))
    if prod.interest_basis == "monthly_30_360":
        months = loan.term if loan.method is M.bullet else 1
        return remaining * rate * months / 12
    return remaining * rate * (end - start).days / (360 if prod.interest_basis == "daily_360" else 365)


@settings(max_examples=400, deadline=None)
@given(loans())
def test_schedule_invariants(case):
    loan, prod = case
    schedule = generate_schedule(loan, prod)
    assert sum(i.principal_fen for i in schedule) == loan.principal_fen
    assert all(i.principal_fen >= 0 and i.interest_fen >= 0 and i.fee_fen == 0 for i in schedule)
    assert [i.seq for i in schedule] == list(range(1, len(schedule) + 1))
    expected_count = {M.bullet: 1, M.card_statement: len(schedule)}.get(loan.method, loan.term)
    assert len(schedule) == expected_count and len(schedule) <= loan.term
    assert schedule[0].due_on == loan.first_due_on
    for before, after in itertools.pairwise(schedule):
        assert after.due_on > before.due_on
        assert (after.due_on.year * 12 + after.due_on.month) - (before.due_on.year * 12 + before.due_on.month) == 1
    for inst in schedule:  # anchored on the first due day, clipped to month end
        month_end = stdlib_calendar.monthrange(inst.due_on.year, inst.due_on.month)[1]
        assert inst.due_on.day == min(loan.first_due_on.day, month_end)
    # each interest is its exact amount rounded once, in the product's direction
    remaining, previous = loan.principal_fen, loan.disbursed_on
    for inst in schedule:
        exact = exact_interest(remaining, loan, prod, previous, inst.due_on)
        assert abs(inst.interest_fen - exact) < 1
        if prod.rounding == "down":
            assert inst.interest_fen <= exact
        elif prod.rounding == "up":
            assert inst.interest_fen >= exact
        else:
            assert abs(inst.interest_fen - exact) <= Fraction(1, 2)
        remaining, previous = remaining - inst.principal_fen, inst.due_on


@settings(max_examples=200, deadline=None)
@given(loans())
def test_level_amounts_are_level_until_the_balance_runs_out(case):
    loan, prod = case
    schedule = generate_schedule(loan, prod)
    remaining = loan.principal_fen
    balances = []
    for inst in schedule:
        balances.append(remaining)
        remaining -= inst.principal_fen
    body = list(zip(schedule[:-1], balances))
    if loan.method is M.equal_instalment and prod.interest_basis == "monthly_30_360":
        payments = {i.total_fen for i, before in body if i.principal_fen < before}  # not capped at the balance
        assert len(payments) <= 1
    if loan.method is M.equal_principal:
        assert len({i.principal_fen for i, before in body if i.principal_fen < before}) <= 1
    if loan.method is M.interest_only:
        assert all(i.principal_fen == 0 for i, _ in body)
    if loan.method is M.card_statement:
        assert prod.card is not None
        assert all(i.principal_fen >= min(before, prod.card.min_payment_floor_fen) for i, before in body)
        assert all(before > i.principal_fen for i, before in body)  # the card stops once repaid
