"""The columnar DuckDB generator equals the per-loan reference for whole portfolios."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.errors import InvalidInput
from arrears.loans.model import LoanTerms
from arrears.loans.schedules import generate_schedule
from arrears.loans.schedules_sql import OUTPUT_SCHEMA, generate_schedules
from arrears.products.catalog import Catalog, catalog

BASES = ("monthly_30_360", "daily_360", "daily_365")
MODES = ("half_up", "half_even", "down", "up")
INPUT_SCHEMA = pa.schema([
    ("loan_key", pa.int64()), ("product_code", pa.string()), ("method", pa.string()),
    ("principal_fen", pa.int64()), ("annual_rate", pa.string()), ("term", pa.int32()),
    ("disbursed_on", pa.date32()), ("first_due_on", pa.date32()),
])


def variant_catalog() -> Catalog:
    """Every packaged product under every rounding mode and interest basis, as its own product code."""
    base = catalog()
    variants = {}
    for code, prod in base.products.items():
        for mode in MODES:
            for basis in BASES:
                name = f"{code}_{mode}_{basis}"
                variants[name] = prod.model_copy(update={"code": name, "rounding": mode, "interest_basis": basis})
    return dataclasses.replace(base, products=base.products | variants)


CATALOG = variant_catalog()
CODES = sorted(CATALOG.products)


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def reference(rows: list[dict]) -> list[dict]:
    out = []
    for row in sorted(rows, key=lambda r: r["loan_key"]):
        terms = LoanTerms(row["principal_fen"], Decimal(row["annual_rate"]), row["term"], row["method"],
                          row["disbursed_on"], row["first_due_on"])
        for inst in generate_schedule(terms, CATALOG.product(row["product_code"])):
            out.append({"loan_key": row["loan_key"], "seq": inst.seq, "due_on": inst.due_on,
                        "principal_fen": inst.principal_fen, "interest_fen": inst.interest_fen, "fee_fen": 0})
    return out


@st.composite
def loan_rows(draw: st.DrawFn) -> dict:
    code = draw(st.sampled_from(CODES))
    prod = CATALOG.product(code)
    disbursed = draw(st.dates(date(2000, 1, 1), date(2060, 12, 31)))
    micro = draw(st.integers(0, int(prod.annual_rate_max * 1_000_000)))
    return {
        "product_code": code, "method": draw(st.sampled_from(prod.repayment_methods)).value,
        "principal_fen": draw(st.integers(1, 10**11)),
        "annual_rate": str(Decimal(micro) / 1_000_000),
        "term": draw(st.one_of(st.integers(1, 24), st.integers(1, 360))),
        "disbursed_on": disbursed, "first_due_on": disbursed + timedelta(days=draw(st.integers(1, 62))),
    }


def random_row(rnd: random.Random) -> dict:
    """A loan drawn like loan_rows(), with edge values over-weighted, to fill a portfolio cheaply."""
    code = rnd.choice(CODES)
    prod = CATALOG.product(code)
    disbursed = date(2000, 1, 1) + timedelta(days=rnd.randrange(22_000))
    max_micro = int(prod.annual_rate_max * 1_000_000)
    return {
        "product_code": code, "method": rnd.choice(prod.repayment_methods).value,
        "principal_fen": rnd.choice([1, 2, 99, 10**11, rnd.randint(1, 10**11), rnd.randint(1, 10**7)]),
        "annual_rate": str(Decimal(rnd.choice([0, max_micro, rnd.randint(0, max_micro)])) / 1_000_000),
        "term": rnd.choice([1, 12, 360, rnd.randint(1, 24), rnd.randint(1, 360)]),
        "disbursed_on": disbursed, "first_due_on": disbursed + timedelta(days=rnd.randint(1, 62)),
    }


@settings(max_examples=25, deadline=None)
@given(st.lists(loan_rows(), min_size=1, max_size=30), st.integers(0, 2**32))
def test_sql_equals_reference_for_random_portfolios(drawn, seed):
    rnd = random.Random(seed)
    loans = drawn + [random_row(rnd) for _ in range(200)]  # a few hundred loans, mixed products and methods
    keys = rnd.sample(range(10**12), len(loans))  # keys in no particular order
    rows = [row | {"loan_key": key} for row, key in zip(loans, keys)]
    result = generate_schedules(table(rows), CATALOG)
    assert result.schema == OUTPUT_SCHEMA
    assert result.to_pylist() == reference(rows)


def test_extremes_equal_reference():
    rows = []
    for code in ("consumer_loan_up_daily_365", "credit_card_half_even_daily_360", "internet_loan_down_monthly_30_360",
                 "micro_business_loan_half_up_daily_365", "inclusive_loan_half_even_monthly_30_360"):
        prod = CATALOG.product(code)
        for method in prod.repayment_methods:
            for principal, rate, term in [(10**11, str(prod.annual_rate_max), 360), (1, "0", 1), (99_999, "0", 7),
                                          (10**11 - 1, "0.123456789012345678", 359), (5, "0.000001", 360)]:
                rows.append({"loan_key": len(rows), "product_code": code, "method": method.value,
                             "principal_fen": principal, "annual_rate": rate, "term": term,
                             "disbursed_on": date(2024, 1, 30), "first_due_on": date(2024, 2, 29)})
    assert generate_schedules(table(rows), CATALOG).to_pylist() == reference(rows)


@pytest.mark.parametrize("mode", MODES)
def test_exact_halves_round_as_the_reference_in_every_mode(mode):
    # principal/100 interest, P/2 level payments and 10% card minimums hit every fraction, halves included
    shapes = [("inclusive_loan", "interest_only", "0.12", 3), ("consumer_loan", "equal_instalment", "0", 2),
              ("micro_business_loan", "equal_principal", "0.06", 2), ("credit_card", "card_statement", "0.18", 4)]
    rows = [{"loan_key": len(shapes) * p + i, "product_code": f"{code}_{mode}_monthly_30_360", "method": method,
             "principal_fen": p, "annual_rate": rate, "term": term,
             "disbursed_on": date(2025, 1, 31), "first_due_on": date(2025, 2, 28)}
            for p in range(1, 401) for i, (code, method, rate, term) in enumerate(shapes)]
    assert generate_schedules(table(rows), CATALOG).to_pylist() == reference(rows)


def test_rate_text_with_trailing_zeros_or_percent_is_the_same_rate():
    base = {"product_code": "consumer_loan", "method": "equal_instalment", "principal_fen": 12_000_000,
            "term": 12, "disbursed_on": date(2025, 1, 15), "first_due_on": date(2025, 2, 15)}
    rows = [base | {"loan_key": k, "annual_rate": text} for k, text in enumerate(["0.0435", "0.043500", "4.35%"])]
    result = generate_schedules(table(rows), CATALOG).to_pylist()
    by_key = [[(r["principal_fen"], r["interest_fen"]) for r in result if r["loan_key"] == k] for k in range(3)]
    assert by_key[0] == by_key[1] == by_key[2]
    assert by_key[0][0] == (980_219, 43_500)


def test_empty_portfolio_gives_an_empty_table():
    assert generate_schedules(table([]), CATALOG) == OUTPUT_SCHEMA.empty_table()


@pytest.mark.parametrize(("change", "field"), [
    ({"product_code": "no_such_product"}, "product_code"),
    ({"method": "bullet"}, "method"),
    ({"annual_rate": "abc"}, "annual_rate"),
])
def test_unknown_product_method_or_rate_is_refused(change, field):
    row = {"loan_key": 1, "product_code": "consumer_loan", "method": "equal_instalment", "principal_fen": 100,
           "annual_rate": "0.1", "term": 3, "disbursed_on": date(2025, 1, 1), "first_due_on": date(2025, 2, 1)}
    with pytest.raises(InvalidInput) as caught:
        generate_schedules(table([row | change]), CATALOG)
    assert caught.value.field == field


def test_repeated_loan_keys_are_refused():
    row = {"loan_key": 1, "product_code": "consumer_loan", "method": "equal_instalment", "principal_fen": 100,
           "annual_rate": "0.1", "term": 3, "disbursed_on": date(2025, 1, 1), "first_due_on": date(2025, 2, 1)}
    with pytest.raises(InvalidInput) as caught:
        generate_schedules(table([row, row]), CATALOG)
    assert caught.value.field == "loan_key"
