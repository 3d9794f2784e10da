"""The calculator's form and the payment chart (pure): any terms the services can hold survive the trip
through the form's fields unchanged (fen exact, rates as Decimal), and a chart's bars stay inside the picture
with heights in the order of the payments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arrears.negotiation.plan import COMPONENTS, Amounts
from arrears.negotiation.terms import Terms
from arrears.web.desk import calculator, chart

fen = st.integers(min_value=0, max_value=10**11)
rates = st.decimals(min_value=0, max_value=1, places=4)
shares = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.99"), places=2)


@st.composite
def terms(draw) -> Terms:
    waiver = Amounts(**{c: draw(fen) for c in COMPONENTS})
    conditional = draw(st.booleans())
    if draw(st.booleans()):
        return Terms(1, draw(rates), waiver=waiver, waiver_conditional=conditional, settlement=True)
    step = draw(st.none() | shares)
    return Terms(draw(st.integers(1, 600)), draw(rates), draw(st.integers(0, 120)), step, waiver, conditional)


@given(terms())
def test_terms_survive_the_form(t):
    values = calculator.values_of(t)
    assert all(isinstance(v, str) for v in values.values())
    parsed, errors = calculator.parse(calculator.read({**values, "calc": "1"}, {}))
    assert errors == {} and parsed == t
    assert parsed.waiver.total == t.waiver.total  # to the fen


@given(st.text(max_size=8))
def test_any_text_in_a_number_field_is_a_named_error_or_a_number(text):
    values = {**calculator.defaults(Decimal("0.12")), "periods": text, "rate": text, "waiver_fee": text}
    parsed, errors = calculator.parse(values)
    assert set(errors) <= {"periods", "rate", "waiver_fee"}
    assert all(code in ("required", "whole_number", "percent", "amount") for code in errors.values())
    if parsed is not None:
        assert parsed.periods >= 0 and parsed.waiver.fee >= 0 and 0 <= parsed.annual_rate <= 1


def test_an_unticked_box_in_a_sent_form_means_no():
    base = calculator.defaults(Decimal("0.12"))
    assert calculator.read({"calc": "1"}, base)["conditional"] == ""
    assert calculator.read({}, base)["conditional"] == "1"  # the first view: the default stands


def test_limits_land_on_their_fields():
    from arrears.negotiation.limits import Violation
    found = calculator.limit_errors([Violation("waiver.penalty", "plan.waiver_within_debt", "", ""),
                                     Violation("annual_rate", "plan.max_rate", "", ""),
                                     Violation("waiver", "plan.something_to_pay", "", "")])
    assert found == {"waiver_penalty": "plan.waiver_within_debt", "rate": "plan.max_rate",
                     "waiver": "plan.something_to_pay"}


payments = st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=120)


@given(payments)
def test_bars_stay_inside_and_follow_the_payments(totals):
    rows = [(k + 1, date(2026, 4, 10) + timedelta(days=30 * k), t) for k, t in enumerate(totals)]
    c = chart.payments_chart(rows)
    assert len(c.bars) == len(totals) and c.max_fen == max(totals)
    for b in c.bars:
        assert 0 <= b.x and b.x + b.width <= c.width and 0 <= b.y and b.y + b.height == c.baseline <= c.height
        assert b.height >= 1
    xs = [b.x for b in c.bars]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # one slot per payment, in order
    for a, b in zip(c.bars, c.bars[1:]):
        if a.total_fen < b.total_fen:
            assert a.height <= b.height
    if max(totals) > 0:
        assert max(b.height for b in c.bars) == c.baseline - chart.TOP  # the largest reaches the top
