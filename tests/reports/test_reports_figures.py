"""Pure parts of the dashboard figures: thinning a long period's dates and the rounding of rates."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arrears.reports.figures import MAX_DAYS, MAX_POINTS, ratio, thin, thinned


@given(st.dates(date(2023, 1, 1), date(2026, 1, 1)), st.integers(0, MAX_DAYS - 1),
       st.sets(st.integers(0, MAX_DAYS - 1), max_size=200))
def test_a_long_period_keeps_the_last_date_of_each_week_or_month(start, length, holes):
    done = [start + timedelta(days=k) for k in range(length + 1) if k not in holes]
    got = thin(done)
    assert thinned(done) == (got, "day" if len(done) <= MAX_POINTS else
                             "week" if len({d.isocalendar()[:2] for d in done}) <= MAX_POINTS else "month")
    assert set(got) <= set(done) and got == sorted(got) and len(got) <= MAX_POINTS
    if len(done) <= MAX_POINTS:
        assert got == done
    elif done:
        assert got[-1] == done[-1]
        weekly = len({d.isocalendar()[:2] for d in done}) <= MAX_POINTS
        key = (lambda d: d.isocalendar()[:2]) if weekly else (lambda d: (d.year, d.month))
        assert [max(d for d in done if key(d) == key(g)) for g in got] == got  # the last date of its week/month
        assert len(got) == len({key(d) for d in done})


@given(st.integers(0, 10**12), st.integers(1, 10**12))
def test_a_rate_is_the_ratio_to_four_places_half_up(part, whole):
    r = ratio(part, whole)
    assert isinstance(r, Decimal) and r.as_tuple().exponent == -4
    assert abs(r - Decimal(part) / Decimal(whole)) <= Decimal("0.00005")
    assert ratio(part, 0) is None
