"""Pure legal rules as properties: the judgment cap (awards at the cap pass, one fen over fails, naming the
strictest applicable cap), deadline dates, and policy files that do not load."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import InvalidInput
from arrears.legal.model import Award, add_years, binding_cap, check_award, judgment_deadlines, settlement_terms
from arrears.legal.policy import load_policy, policy
from arrears.products.catalog import PolicyError, catalog

DAY0 = date(2020, 1, 1)
days = st.integers(min_value=0, max_value=3_000)
principal = st.integers(min_value=0, max_value=10**12)


def _product(lpr: bool = False, annual: str | None = None):
    base = catalog().product("consumer_loan")
    caps = base.penalty.caps.model_copy(update={"lpr_multiple": lpr,
                                                "total_cost_annual": Decimal(annual) if annual else None})
    return base.model_copy(update={"penalty": base.penalty.model_copy(update={"caps": caps})})


@settings(deadline=None)  # the first example loads the catalogue
@given(principal, days, st.sampled_from([(False, None), (True, None), (False, "0.18"), (True, "0.30")]))
def test_the_cap_is_the_strictest_rate_on_the_principal_for_the_days(p, n, setting):
    legal = catalog().legal
    product = _product(*setting)
    cap = binding_cap(principal_fen=p, disbursed_on=DAY0, interest_until=DAY0 + timedelta(days=n), product=product,
                      legal=legal, policy=policy())
    rates = {"financial_loan_total_cost_cap": legal.financial_loan_total_cost_cap.annual}
    if setting[0]:
        multiple = legal.private_lending_cap_lpr_multiple.multiple
        rates["private_lending_cap_lpr_multiple"] = legal.one_year_lpr.rate * multiple
    if setting[1]:
        rates["product_total_cost_annual"] = Decimal(setting[1])
    name = min(rates, key=rates.get)
    assert cap.rule == f"legal.judgment_cap.{name}" and cap.annual == rates[name]
    # Exact in integers: the largest whole fen not above principal × rate × days / 365.
    num, den = rates[name].as_integer_ratio()
    assert cap.limit_fen == p * num * n // (den * 365)
    check_award(Award(p, cap.limit_fen, 0, 0, 10**9), cap)  # at the cap: accepted (costs are outside it)
    split = Award(p, cap.limit_fen // 3, cap.limit_fen // 3, cap.limit_fen - 2 * (cap.limit_fen // 3), 0)
    check_award(split, cap)
    with pytest.raises(InvalidInput) as over:
        check_award(Award(p, cap.limit_fen, 1, 0, 0), cap)
    assert over.value.rule == cap.rule and cap.source in over.value.detail


def test_interest_until_before_disbursement_and_negative_amounts_are_refused():
    with pytest.raises(InvalidInput) as early:
        binding_cap(principal_fen=1, disbursed_on=DAY0, interest_until=DAY0 - timedelta(days=1),
                    product=_product(), legal=catalog().legal, policy=policy())
    assert early.value.rule == "legal.interest_until_after_disbursement"
    with pytest.raises(InvalidInput) as negative:
        Award(1, -1, 0, 0, 0)
    assert negative.value.rule == "legal.amount_non_negative" and negative.value.field == "interest_fen"


@settings(deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), st.integers(min_value=0, max_value=60))
def test_deadlines_follow_the_configured_periods(served, performance):
    p = policy()
    d = judgment_deadlines(served_on=served, performance_days=performance, policy=p)
    assert d["appeal"] - served == timedelta(days=p.deadlines["appeal"].days)
    assert d["performance_due_on"] == d["appeal"] + timedelta(days=1 + performance)
    years = p.deadlines["enforcement_application"].years
    due = d["enforcement_application"]
    assert due.year == d["performance_due_on"].year + years
    assert (due.month, due.day) == (d["performance_due_on"].month, d["performance_due_on"].day) or (
        (d["performance_due_on"].month, d["performance_due_on"].day, due.day) == (2, 29, 28))


def test_add_years_on_29_february():
    assert add_years(date(2024, 2, 29), 2) == date(2026, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_every_deadline_and_cap_carries_its_source():
    p = policy()
    assert all(len(d.source) > 10 for d in p.deadlines.values())
    assert p.judgment_caps.source and p.performance_days_default.source


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("template: lawyer_letter", "template: overdue_notice"), "purpose legal_notice"),
    (lambda t: t.replace("template: pre_suit_notice", "template: no_such"), "no template 'no_such'"),
    (lambda t: t.replace("settlement_close_reason: agreement_in_force", "settlement_close_reason: gone"),
     "not a close reason"),
    (lambda t: t.replace("    days: 15\n", "    days: 15\n    years: 1\n"), "exactly one of days or years"),
    (lambda t: t.replace("    source: \"中华人民共和国民事诉讼法 (2023 修正) Art. 171", "    note: \"x"), "source"),
])
def test_a_bad_policy_file_does_not_load_and_names_the_problem(tmp_path, edit, message):
    from arrears.legal.policy import PACKAGED

    bad = tmp_path / "policy.yaml"
    bad.write_text(edit(Path(PACKAGED).read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(bad)
    assert message in str(err.value) and str(bad) in str(err.value)


@settings(deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=24),
       st.integers(min_value=-5, max_value=5), st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 1, 1)))
def test_settled_instalments_must_add_up_to_the_total(amounts, off, first):
    terms = {"instalments": [{"due_on": (first + timedelta(days=30 * k)).isoformat(), "amount_fen": a}
                             for k, a in enumerate(amounts)], "note": "kept"}
    total = sum(amounts) + off
    if off == 0:
        clean = settlement_terms(terms, total)
        assert [r["amount_fen"] for r in clean["instalments"]] == amounts
        assert clean["waived_fen"] == 0 and clean["note"] == "kept"
    else:
        with pytest.raises(InvalidInput) as err:
            settlement_terms(terms, total)
        assert err.value.rule == "legal.settlement_total"


@pytest.mark.parametrize("terms, field", [
    ({}, "terms.instalments"), ({"instalments": []}, "terms.instalments"),
    ({"instalments": [{"due_on": "2024-13-01", "amount_fen": 1}]}, "terms.instalments[0].due_on"),
    ({"instalments": [{"due_on": "2024-12-01", "amount_fen": 1.0}]}, "terms.instalments[0].amount_fen"),
    ({"instalments": [{"due_on": "2024-12-01", "amount_fen": 1}], "waived_fen": -1}, "terms.waived_fen"),
])
def test_bad_settlement_terms_name_the_field(terms, field):
    with pytest.raises(InvalidInput) as err:
        settlement_terms(terms, 1)
    assert err.value.field == field
