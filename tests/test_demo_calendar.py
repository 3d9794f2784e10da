"""The demo runs on any day: a year without an official schedule is filled with weekends only (demo only)."""

from datetime import date

import pytest

from arrears.calendar import CalendarUnknownYear, default_calendar
from arrears.demo.build import demo_calendar


def test_demo_calendar_covers_an_unknown_year_with_weekends_only():
    with pytest.raises(CalendarUnknownYear):
        default_calendar().next_business_day(date(2027, 1, 2))
    calendar = demo_calendar(date(2027, 1, 15))
    assert calendar.next_business_day(date(2027, 1, 2)) == date(2027, 1, 4)  # Saturday → Monday
    assert "demo only" in calendar.source
    assert demo_calendar(date(2025, 6, 1)) is default_calendar()  # known years: the official schedule as is
