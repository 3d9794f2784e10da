"""Reference repayment schedules, one loan at a time: the test oracle for the columnar generator.

Every rounded amount is an exact ratio of integers, rounded once to the fen with the product's mode
through ``round_fen``. Nothing is rounded in between, so ``schedules_sql`` reproduces each figure
with integer (HUGEINT) arithmetic in DuckDB and the two agree to the fen.

Methods (``RepaymentMethod``):

- ``equal_instalment`` 等额本息: a level payment ``round(P·f)`` where ``f`` is the annuity factor at the
  monthly rate (see ``annuity_factor``); each period's principal is the payment less that period's
  interest; the last period takes whatever principal remains, absorbing the rounding.
- ``equal_principal`` 等额本金: principal ``round(P/n)`` per period, the last takes the rest.
- ``interest_only`` 先息后本: interest every period on ``P``, all principal in the last period.
- ``bullet`` 到期一次还本付息: one instalment at maturity (``first_due_on``); ``term`` is months to maturity.
- ``card_statement``: see ``_card_minimum``.

Interest of a period is ``remaining·annual/12`` on the ``monthly_30_360`` basis, or
``remaining·annual·days/360`` (``/365``) on the daily bases, where ``days`` runs from the previous due date
(or disbursement) to this due date. Due dates are contractual: not moved for holidays here.

A principal component never exceeds the balance left, so when rounding up makes level amounts of a tiny
loan too large the balance reaches zero early and later instalments carry no principal (and, having no
balance, no interest).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from arrears.errors import InvalidInput
from arrears.loans.model import LoanTerms, ScheduledInstalment
from arrears.money import round_fen
from arrears.products.model import Product, RepaymentMethod

MAX_TERM = 360
ANNUITY_DECIMALS = 20  # the annuity factor is fixed to this many decimals before it meets money
_ANNUITY_PRECISION = 60  # significant digits while evaluating the factor, far beyond those kept

# Divisor of the year fraction for each product interest basis.
INTEREST_DIVISOR: dict[str, int] = {"monthly_30_360": 12, "daily_360": 360, "daily_365": 365}

# Principal of a period before the last, from (balance before the period, the period's interest).
PrincipalRule = Callable[[int, int], int]


def decimal_ratio(value: Decimal) -> tuple[int, int]:
    """An exact Decimal as (numerator, denominator), the denominator a power of ten: 0.0435 -> (435, 10000)."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite decimal")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return int(value), 1
    return int(value.scaleb(-exponent)), 10**-exponent


def round_ratio(numerator: int, denominator: int, mode: str) -> int:
    """numerator/denominator rounded once to whole fen.

    The division runs with enough significant digits that the quotient is never rounded across a
    fen boundary or a half, so the result is the exact ratio's rounding.
    """
    with localcontext() as ctx:
        ctx.prec = len(str(abs(numerator))) + 2 * len(str(denominator)) + 10
        return round_fen(Decimal(numerator) / Decimal(denominator), mode)


def annuity_factor(annual_rate: Decimal, term: int) -> tuple[int, int]:
    """等额本息 payment per fen of principal, as an exact ratio (numerator, denominator).

    With r = annual/12 the factor is r·(1+r)^n / ((1+r)^n − 1), evaluated at 60 significant digits and
    quantized (half-even) to 20 decimals; the payment is then round(P·factor) in the product's mode.
    Fixing the factor before it multiplies P makes the payment a plain integer ratio that SQL reproduces
    exactly. With r = 0 the factor is exactly 1/n.
    """
    if annual_rate == 0:
        return 1, term
    with localcontext() as ctx:
        ctx.prec = _ANNUITY_PRECISION
        monthly = annual_rate / 12
        growth = (1 + monthly) ** term
        factor = (monthly * growth / (growth - 1)).quantize(Decimal(1).scaleb(-ANNUITY_DECIMALS), ROUND_HALF_EVEN)
    return int(factor.scaleb(ANNUITY_DECIMALS)), 10**ANNUITY_DECIMALS


def due_date(first_due_on: date, seq: int) -> date:
    """Due date of instalment ``seq``: first_due_on + (seq−1) months, on its day, clipped to month end."""
    months = first_due_on.month - 1 + seq - 1
    year, month = first_due_on.year + months // 12, months % 12 + 1
    return date(year, month, min(first_due_on.day, calendar.monthrange(year, month)[1]))


def generate_schedule(terms: LoanTerms, product: Product) -> list[ScheduledInstalment]:
    """The contractual schedule of one loan under its product (see the module docstring for the rules)."""
    validate_terms(terms, product)
    method = RepaymentMethod(terms.method)
    mode = product.rounding
    principal = terms.principal_fen
    rate_num, rate_den = decimal_ratio(terms.annual_rate)
    divisor = INTEREST_DIVISOR[product.interest_basis]
    daily = product.interest_basis != "monthly_30_360"

    def interest(remaining: int, start: date, end: date, months: int = 1) -> int:
        periods = (end - start).days if daily else months
        return round_ratio(remaining * rate_num * periods, rate_den * divisor, mode)

    if method is RepaymentMethod.bullet:
        amount = interest(principal, terms.disbursed_on, terms.first_due_on, months=terms.term)
        return [ScheduledInstalment(seq=1, due_on=terms.first_due_on, principal_fen=principal, interest_fen=amount)]

    next_principal = _principal_rule(terms, product)
    instalments: list[ScheduledInstalment] = []
    remaining, previous = principal, terms.disbursed_on
    for seq in range(1, terms.term + 1):
        due_on = due_date(terms.first_due_on, seq)
        interest_fen = interest(remaining, previous, due_on)
        principal_fen = remaining if seq == terms.term else next_principal(remaining, interest_fen)
        instalments.append(ScheduledInstalment(seq, due_on, principal_fen, interest_fen))
        remaining -= principal_fen
        previous = due_on
        if method is RepaymentMethod.card_statement and remaining == 0:
            break  # a card's statement cycles end once the balance is repaid
    return instalments


def _principal_rule(terms: LoanTerms, product: Product) -> PrincipalRule:
    """Principal of a period before the last, from the balance left and the period's interest."""
    method, mode, principal = RepaymentMethod(terms.method), product.rounding, terms.principal_fen
    if method is RepaymentMethod.equal_instalment:
        factor_num, factor_den = annuity_factor(terms.annual_rate, terms.term)
        payment = round_ratio(principal * factor_num, factor_den, mode)
        # On a daily basis a long month's interest can exceed the level payment: principal is then 0.
        return lambda remaining, interest: min(max(payment - interest, 0), remaining)
    if method is RepaymentMethod.equal_principal:
        level = round_ratio(principal, terms.term, mode)
        return lambda remaining, interest: min(level, remaining)
    if method is RepaymentMethod.card_statement:
        return _card_minimum(product)
    return lambda remaining, interest: 0  # interest_only


def _card_minimum(product: Product) -> PrincipalRule:
    """A card in collection: the statement balance repaid cycle by cycle with minimum payments.

    A card in arrears is modelled as its statement balance (the principal) paid down by the minimum
    payment each statement cycle, the way a cardholder who only pays the minimum would clear it. Cycle k
    is due on first_due_on + (k−1) months; its principal is max(round(balance·min_payment_share),
    min_payment_floor_fen), never more than the balance, and its interest is on the balance over the days
    since the previous due date (the product's basis: daily_360 for the packaged card). Cycles run until
    the balance is repaid; if ``term`` cycles are reached the last takes the whole rest, so it always ends.
    """
    assert product.card is not None  # the Product model requires card terms for card_statement
    share_num, share_den = decimal_ratio(product.card.min_payment_share)
    floor, mode = product.card.min_payment_floor_fen, product.rounding
    return lambda remaining, interest: min(remaining, max(round_ratio(remaining * share_num, share_den, mode), floor))


def validate_terms(terms: LoanTerms, product: Product) -> None:
    """Raise InvalidInput naming the field and rule if the terms cannot make a schedule under the product."""
    if isinstance(terms.principal_fen, bool) or not isinstance(terms.principal_fen, int) or terms.principal_fen <= 0:
        raise InvalidInput(detail="principal must be a positive whole number of fen",
                           field="principal_fen", rule="positive_fen")
    rate = terms.annual_rate
    if not isinstance(rate, Decimal) or not rate.is_finite():
        raise InvalidInput(detail="annual rate must be a finite Decimal (never a float)",
                           field="annual_rate", rule="decimal_rate")
    if not 0 <= rate <= product.annual_rate_max:
        raise InvalidInput(detail=f"annual rate {rate} is outside 0–{product.annual_rate_max} for product {product.code}",
                           field="annual_rate", rule="product_rate_range")
    if isinstance(terms.term, bool) or not isinstance(terms.term, int) or not 1 <= terms.term <= MAX_TERM:
        raise InvalidInput(detail=f"term must be a whole number of periods from 1 to {MAX_TERM}",
                           field="term", rule="term_range")
    if terms.method not in product.repayment_methods:
        allowed = ", ".join(m.value for m in product.repayment_methods)
        raise InvalidInput(detail=f"product {product.code} does not offer {terms.method!s}; it offers {allowed}",
                           field="method", rule="method_allowed_by_product")
    if not terms.first_due_on > terms.disbursed_on:
        raise InvalidInput(detail="first due date must be after the disbursement date",
                           field="first_due_on", rule="after_disbursement")
