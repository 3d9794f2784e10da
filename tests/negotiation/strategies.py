"""Hypothesis strategies for negotiation tests: debts and their contexts under every packaged product."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from arrears.negotiation.plan import Amounts
from arrears.negotiation.terms import DebtContext, baseline_payment
from arrears.products.catalog import catalog

PRODUCTS = sorted(catalog().products)

debts = st.builds(Amounts, principal=st.integers(100, 10**9), interest=st.integers(0, 10**7),
                  penalty=st.integers(0, 10**7), fee=st.integers(0, 10**6), cost=st.integers(0, 10**5))


@st.composite
def contexts(draw, product_code: str | None = None) -> DebtContext:
    cat = catalog()
    product = cat.product(product_code or draw(st.sampled_from(PRODUCTS)))
    top = int(product.annual_rate_max * 10000)
    rate = Decimal(draw(st.integers(0, top))) / 10000
    debt = draw(debts)
    remaining = draw(st.integers(0, 60))
    as_of = draw(st.dates(date(2024, 1, 1), date(2030, 12, 31)))
    return DebtContext(loan_id=1, as_of=as_of, debt=debt, contract_rate=rate, product=product, legal=cat.legal,
                       remaining_periods=remaining, dpd=draw(st.integers(0, 720)),
                       baseline_payment_fen=baseline_payment(debt, remaining))
