"""Affordability arithmetic, norms and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import InvalidInput
from arrears.negotiation.affordability import Statement, assess, household_norms
from arrears.negotiation.config import EXPENSE_CATEGORIES, NORMED, norms, policy

fen = st.integers(0, 10**8)
statements = st.builds(
    Statement, incomes=st.dictionaries(st.sampled_from(["wages", "business", "pension", "rent"]), fen, min_size=1),
    expenses=st.dictionaries(st.sampled_from(EXPENSE_CATEGORIES), fen), dependants=st.integers(0, 8),
    region_code=st.sampled_from(["", "110105", "330106", "520102", "999999"]),
    assets=st.dictionaries(st.sampled_from(["cash", "deposit", "vehicle"]), fen))


@settings(max_examples=200, deadline=None)
@given(statements)
def test_disposable_is_income_less_assessed_expenses_and_the_payment_a_share_of_it(s):
    a = assess(s)
    cfg = policy().affordability
    assert a.income_fen == sum(s.incomes.values())
    assert a.declared_expenses_fen == sum(s.expenses.values())
    _, norm = household_norms(s)
    expected = 0
    for c, v in s.expenses.items():
        cap = norm.get(c)
        # an expense above flag_above × norm counts at that bound; others as declared
        expected += min(v, int((Decimal(cap) * cfg.flag_above).to_integral_value())) if cap is not None else v
    assert a.assessed_expenses_fen == expected
    assert a.disposable_fen == a.income_fen - a.assessed_expenses_fen
    assert 0 <= a.sustainable_payment_fen <= max(a.disposable_fen, 0)
    assert a.sustainable_payment_fen == int(Decimal(max(a.disposable_fen, 0)) * cfg.sustainable_share)
    assert a.liquid_assets_fen == s.assets.get("cash", 0) + s.assets.get("deposit", 0)
    flagged_above = {f.category for f in a.flags if f.direction == "above"}
    assert flagged_above == {c for c, v in s.expenses.items()
                             if c in norm and v > int((Decimal(norm[c]) * cfg.flag_above).to_integral_value())}
    if a.income_fen:
        assert a.ratios["disposable_to_income"] == (Decimal(a.disposable_fen) / a.income_fen).quantize(Decimal("0.0001"))
    else:
        assert a.ratios["disposable_to_income"] is None


def test_norms_grow_with_household_and_region():
    one = household_norms(Statement({"w": 0}, {}, dependants=0))[1]
    three = household_norms(Statement({"w": 0}, {}, dependants=2))[1]
    beijing = household_norms(Statement({"w": 0}, {}, dependants=0, region_code="110105"))
    assert beijing[0] == "tier1"
    for c in NORMED:
        assert three[c] > one[c] and beijing[1][c] > one[c]
        assert one[c] == norms().per_person_fen[c]


def test_figures_far_outside_norms_are_flagged():
    a = assess(Statement({"wages": 800_000}, {"food": 1_000_000, "housing": 100}))
    flags = {(f.category, f.direction) for f in a.flags}
    assert flags == {("food", "above"), ("housing", "below")}
    assert a.assessed_expenses_fen < 1_000_100  # the inflated food bill is not taken at face value


@pytest.mark.parametrize("statement, field, rule", [
    (Statement({"wages": -1}, {}), "incomes.wages", "non_negative"),
    (Statement({"wages": 10**15}, {}), "incomes.wages", "affordability.absurd_amount"),
    (Statement({"wages": 1}, {"yacht": 5}), "expenses.yacht", "expense_category"),
    (Statement({"wages": 1}, {"food": -5}), "expenses.food", "non_negative"),
    (Statement({}, {}), "incomes", "required"),
    (Statement({"wages": 1}, {}, dependants=-1), "dependants", "range"),
])
def test_negative_absurd_or_unknown_figures_are_refused_naming_the_field(statement, field, rule):
    with pytest.raises(InvalidInput) as err:
        assess(statement)
    assert (err.value.field, err.value.rule) == (field, rule)
