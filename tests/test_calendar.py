"""China business calendar: the shipped official schedule, weekends, refusal of unknown years, overrides."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.calendar import OFFICIAL_SCHEDULE, BusinessCalendar, CalendarUnknownYear, default_calendar
from arrears.errors import InvalidInput

CAL = default_calendar()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.mark.parametrize(("first", "last"), [
    (date(2025, 1, 28), date(2025, 2, 4)),  # 2025 Spring Festival
    (date(2025, 10, 1), date(2025, 10, 8)),  # 2025 National Day + Mid-Autumn
    (date(2025, 5, 1), date(2025, 5, 5)),
    (date(2026, 2, 15), date(2026, 2, 23)),  # 2026 Spring Festival, nine days
    (date(2026, 10, 1), date(2026, 10, 7)),
    (date(2026, 1, 1), date(2026, 1, 3)),
])
def test_official_holidays_are_days_off(first, last):
    assert not any(CAL.is_business_day(d) for d in days(first, last))
    assert CAL.is_business_day(last + timedelta(days=1)) or (last + timedelta(days=1)).weekday() >= 5


@pytest.mark.parametrize("workday", [
    date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11),
    date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10),
])
def test_make_up_workdays_are_weekends_that_are_worked(workday):
    assert workday.weekday() >= 5
    assert CAL.is_business_day(workday)


def test_ordinary_weekends_and_weekdays():
    assert not CAL.is_business_day(date(2025, 3, 8))  # Saturday
    assert not CAL.is_business_day(date(2025, 3, 9))  # Sunday
    assert CAL.is_business_day(date(2025, 3, 12))  # Wednesday


def test_next_business_day():
    assert CAL.next_business_day(date(2026, 2, 15)) == date(2026, 2, 24)
    assert CAL.next_business_day(date(2026, 2, 24)) == date(2026, 2, 24)
    assert CAL.next_business_day(date(2025, 3, 8)) == date(2025, 3, 10)


def test_add_business_days_over_spring_festival():
    assert CAL.add_business_days(date(2026, 2, 13), 1) == date(2026, 2, 14)  # Saturday, worked
    assert CAL.add_business_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert CAL.add_business_days(date(2026, 2, 24), -2) == date(2026, 2, 13)
    assert CAL.add_business_days(date(2025, 1, 27), 1) == date(2025, 2, 5)
    assert CAL.add_business_days(date(2025, 1, 29), 0) == date(2025, 1, 29)
    assert CAL.business_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2


def test_a_year_without_official_schedule_is_refused():
    with pytest.raises(CalendarUnknownYear) as caught:
        CAL.is_business_day(date(2027, 3, 3))
    assert isinstance(caught.value, InvalidInput)
    message = str(caught.value)
    assert "2027" in message and "no official" in message and "override" in message
    with pytest.raises(CalendarUnknownYear):
        CAL.add_business_days(date(2026, 12, 30), 5)
    with pytest.raises(CalendarUnknownYear):
        CAL.business_days_between(date(2026, 12, 1), date(2027, 1, 5))


def test_yaml_override_covers_2027_and_corrects_a_known_year(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text(yaml.safe_dump({"overrides": [
        {"date": date(2027, 1, 1), "kind": "holiday"},
        {"date": date(2027, 2, 6), "kind": "workday"},  # a Saturday
        {"date": date(2025, 12, 31), "kind": "holiday"},  # an institution's own closing day
        {"date": date(2025, 1, 26), "kind": "holiday"},  # undo an official make-up workday
    ]}))
    cal = BusinessCalendar.load(overrides=path)
    assert not cal.is_business_day(date(2027, 1, 1))
    assert cal.is_business_day(date(2027, 2, 6))
    assert cal.is_business_day(date(2027, 3, 3))  # an ordinary Wednesday once the year is covered
    assert not cal.is_business_day(date(2025, 12, 31))
    assert not cal.is_business_day(date(2025, 1, 26))
    assert cal.add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    with pytest.raises(CalendarUnknownYear):
        cal.is_business_day(date(2028, 1, 3))


def test_csv_override(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("date,kind\n2027-01-01,holiday\n2027-02-06,workday\n", encoding="utf-8")
    cal = BusinessCalendar.load(overrides=str(path))
    assert not cal.is_business_day(date(2027, 1, 1)) and cal.is_business_day(date(2027, 2, 6))


@pytest.mark.parametrize(("text", "where"), [
    ("date,kind\n2027-01-01,holiday\n2027-13-01,holiday\n", "row 3 date"),
    ("date,kind\n2027-01-01,vacation\n", "row 2 kind"),
])
def test_bad_override_rows_are_named(tmp_path, text, where):
    path = tmp_path / "overrides.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        BusinessCalendar.load(overrides=path)
    assert caught.value.field.endswith(where)


def test_shipped_schedule_is_consistent():
    data = yaml.safe_load(OFFICIAL_SCHEDULE.read_text(encoding="utf-8"))
    assert sorted(data["years"]) == list(range(2020, 2027)) and data["source"]
    for year, body in data["years"].items():
        assert all(d.year == year for d in body["holidays"]) and all(d.year == year for d in body["workdays"])
        assert all(d.weekday() >= 5 for d in body["workdays"])
        assert not set(body["holidays"]) & set(body["workdays"])
    assert default_calendar() is default_calendar()


known_days = st.dates(date(2020, 1, 1), date(2026, 12, 31))


@settings(max_examples=300, deadline=None)
@given(known_days, st.integers(-250, 250))
def test_add_and_count_business_days_agree(start, n):
    try:
        end = CAL.add_business_days(start, n)
    except CalendarUnknownYear:
        return  # walked out of the known years
    assert (end > start) == (n > 0) and (end < start) == (n < 0)
    if n:
        assert CAL.is_business_day(end)
    assert CAL.business_days_between(start, end) == n


@settings(max_examples=200, deadline=None)
@given(known_days, known_days)
def test_counting_equals_walking_day_by_day(a, b):
    if b >= a:  # (a, b]
        assert CAL.business_days_between(a, b) == sum(CAL.is_business_day(d) for d in days(a, b)[1:])
    else:  # [b, a)
        assert CAL.business_days_between(a, b) == -sum(CAL.is_business_day(d) for d in days(b, a)[:-1])
