"""The columnar engine equals the per-loan reference, table for table and row for row, on generated
portfolios: hundreds of loans per example, thousands in all, with broken loans, restructured loans and a
previous snapshot; also under a catalogue whose products round, count days and cap differently, and with
the portfolio taken in small loan_id chunks."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from portfolios import CATALOG, Portfolio, portfolios, small_portfolios

from arrears.delinquency import engine, reference
from arrears.delinquency.contract import DUE, from_history
from arrears.products.catalog import Catalog

EXAMPLES = settings(max_examples=24, deadline=None, suppress_health_check=list(HealthCheck))
TABLES = ("snapshot", "penalties", "transitions", "rejected")


def variant_catalog() -> Catalog:
    """Every product with another rounding mode, day basis, compounding and cap (the LPR multiple)."""
    modes, bases = ("half_even", "down", "up", "half_up"), ("daily_365", "daily_360", "monthly_30_360")
    products = {}
    for k, (code, product) in enumerate(sorted(CATALOG.products.items())):
        penalty = product.penalty
        if penalty.kind == "rate_markup":
            penalty = penalty.model_copy(update={"compound": not penalty.compound, "caps": penalty.caps.model_copy(
                update={"lpr_multiple": k % 2 == 0})})
        products[code] = product.model_copy(update={
            "rounding": modes[k % 4], "interest_basis": bases[k % 3], "penalty": penalty})
    return dataclasses.replace(CATALOG, products=products)


VARIANT = variant_catalog()


def assert_same(p: Portfolio, catalog: Catalog, chunk_loans: int = engine.CHUNK_LOANS) -> None:
    ours = engine.run(p.inputs, p.business_date, catalog, chunk_loans=chunk_loans)
    theirs = reference.evaluate(p.inputs, p.business_date, catalog)
    for name in TABLES:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.schema == b.schema, name
        if not a.equals(b):
            diff = [(x, y) for x, y in zip(a.to_pylist(), b.to_pylist()) if x != y][:3]
            raise AssertionError(f"{name}: engine {a.num_rows} rows, reference {b.num_rows}; first diffs {diff}")


@EXAMPLES
@given(portfolios(150, 300))
def test_engine_equals_reference(p):
    assert_same(p, p.catalog)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(portfolios(150, 300))
def test_engine_equals_reference_under_other_product_rules(p):
    assert_same(p, VARIANT)


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(portfolios(150, 300))
def test_engine_in_loan_id_chunks_equals_reference(p):
    assert_same(p, p.catalog, chunk_loans=47)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(small_portfolios(max_loans=4, broken=True))
def test_engine_equals_reference_on_small_portfolios(p):
    assert_same(p, p.catalog)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(portfolios(100, 200))
def test_passing_every_settlement_one_by_one_changes_nothing(p):
    """The contract asks for the settlements after their due date (and the anomalous ones); more rows —
    here all of them — give the same outputs, on the engine and on the reference."""
    totals, every = from_history(p.inputs.loans, p.inputs.instalments.select(DUE.names), p.history,
                                 p.business_date, every=True)
    assert every.num_rows > p.inputs.settlements.num_rows
    more = dataclasses.replace(p.inputs, instalments=totals, settlements=every)
    for run in (lambda i: engine.run(i, p.business_date, p.catalog),
                lambda i: reference.evaluate(i, p.business_date, p.catalog)):
        ours, theirs = run(p.inputs), run(more)
        for name in TABLES:
            assert getattr(ours, name).equals(getattr(theirs, name)), name
