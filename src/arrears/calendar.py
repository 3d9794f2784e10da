"""China business calendar: statutory holidays and make-up workdays (调休上班) as shipped data.

The official schedule is published year by year, so a year without one is refused rather than guessed
(a guess would miss the make-up workdays and move due dates wrongly). An institution can load an
override table (date,kind) to cover such a year or to correct a known one.
"""

from __future__ import annotations

import bisect
import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import yaml

from arrears.errors import InvalidInput

OFFICIAL_SCHEDULE = Path(__file__).parent / "calendar_cn.yaml"
OVERRIDE_KINDS = ("holiday", "workday")


class CalendarUnknownYear(InvalidInput):
    """A date in a year for which the calendar has neither the official schedule nor an override."""


@dataclass(frozen=True)
class BusinessCalendar:
    holidays: frozenset[date]  # days off, weekdays or not
    workdays: frozenset[date]  # make-up workdays, normally weekends; disjoint from holidays
    years: frozenset[int]  # years with an official schedule or override rows
    source: str = ""

    def __post_init__(self) -> None:
        # Sorted exceptions to the plain weekday rule, for counting with bisect instead of walking days.
        object.__setattr__(self, "_weekday_holidays", sorted(d for d in self.holidays if d.weekday() < 5))
        object.__setattr__(self, "_weekend_workdays", sorted(d for d in self.workdays if d.weekday() >= 5))

    @classmethod
    def load(cls, overrides: str | Path | None = None) -> BusinessCalendar:
        """The official schedule, with an institution's override table (YAML or CSV of date,kind) on top."""
        calendar = _read_official(OFFICIAL_SCHEDULE)
        if overrides is not None:
            calendar = calendar.with_overrides(_read_overrides(Path(overrides)), source=str(overrides))
        return calendar

    def with_overrides(self, rows: Iterable[tuple[date, str]], source: str = "overrides") -> BusinessCalendar:
        """A copy where each (date, 'holiday'|'workday') row wins over the schedule; its year becomes known."""
        holidays, workdays, years = set(self.holidays), set(self.workdays), set(self.years)
        for day, kind in rows:
            if kind == "holiday":
                holidays.add(day)
                workdays.discard(day)
            else:
                workdays.add(day)
                holidays.discard(day)
            years.add(day.year)
        return BusinessCalendar(frozenset(holidays), frozenset(workdays), frozenset(years),
                                f"{self.source}; overrides from {source}")

    def is_business_day(self, day: date) -> bool:
        self._require_year(day.year)
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """``day`` itself if it is a business day, else the first business day after it."""
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return day

    def add_business_days(self, day: date, n: int) -> date:
        """The n-th business day after ``day`` (before it if n < 0); ``day`` itself when n = 0.

        ``day`` need not be a business day and is never counted: Friday + 1 is Monday, and so is
        Saturday + 1 (absent holidays).
        """
        step = timedelta(days=1 if n > 0 else -1)
        for _ in range(abs(n)):
            day += step
            while not self.is_business_day(day):
                day += step
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days stepped onto walking from ``start`` to ``end``: start excluded, end included.

        Forward that is the business days in (start, end]; backward, minus those in [end, start). So it is
        the inverse of add_business_days: business_days_between(d, add_business_days(d, n)) == n.
        """
        one = timedelta(days=1)
        if end < start:
            return -self._count(end, start - one)
        return self._count(start + one, end)

    def _count(self, first: date, last: date) -> int:
        """Business days in [first, last], by arithmetic on weekdays and the sorted exceptions."""
        if last < first:
            return 0
        for year in range(first.year, last.year + 1):
            self._require_year(year)
        weekdays = _weekdays_upto(last) - _weekdays_upto(first - timedelta(days=1))
        return (weekdays - _count_in(self._weekday_holidays, first, last)  # type: ignore[attr-defined]
                + _count_in(self._weekend_workdays, first, last))  # type: ignore[attr-defined]

    def _require_year(self, year: int) -> None:
        if year not in self.years:
            known = f"{min(self.years)}–{max(self.years)}" if self.years else "none"
            raise CalendarUnknownYear(
                detail=(f"{year} has no official China holiday schedule in this calendar (known years: {known}); "
                        "load an override table with BusinessCalendar.load(overrides=PATH), a YAML or CSV file "
                        f"of date,kind rows (kind holiday or workday) listing {year}'s holidays and make-up workdays"),
                field="date", rule="calendar_year_known")


def _weekdays_upto(day: date) -> int:
    """Monday–Friday dates from 0001-01-01 up to and including ``day``."""
    ordinal = day.toordinal()  # ordinal 1 (0001-01-01) is a Monday
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _count_in(sorted_days: list[date], first: date, last: date) -> int:
    return bisect.bisect_right(sorted_days, last) - bisect.bisect_left(sorted_days, first)


def _read_official(path: Path) -> BusinessCalendar:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    holidays: set[date] = set()
    workdays: set[date] = set()
    for body in data["years"].values():
        holidays.update((body or {}).get("holidays") or {})
        workdays.update((body or {}).get("workdays") or {})
    return BusinessCalendar(frozenset(holidays), frozenset(workdays), frozenset(data["years"]), data["source"])


def _read_overrides(path: Path) -> list[tuple[date, str]]:
    """Rows of (date, kind) from a CSV with a date,kind header or a YAML list (optionally under ``overrides:``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(detail=f"cannot read calendar overrides: {exc}", field=str(path)) from None
    if path.suffix.lower() == ".csv":
        raw = [(row.get("date"), row.get("kind")) for row in csv.DictReader(text.splitlines())]
        first_row = 2  # after the header
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(detail=f"calendar overrides are not valid YAML: {exc}", field=str(path)) from None
        if isinstance(data, dict):
            data = data.get("overrides")
        if not isinstance(data, list):
            raise InvalidInput(detail="expected a list of {date, kind} rows (top level or under overrides:)",
                               field=str(path), rule="calendar_override_format")
        raw = [(row.get("date"), row.get("kind")) if isinstance(row, dict) else (None, None) for row in data]
        first_row = 1
    return [_override_row(value, kind, f"{path}: row {i}") for i, (value, kind) in enumerate(raw, first_row)]


def _override_row(value: object, kind: object, where: str) -> tuple[date, str]:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            pass
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise InvalidInput(detail=f"date {value!r} is not a YYYY-MM-DD date", field=f"{where} date",
                           rule="calendar_override_format")
    kind = kind.strip().lower() if isinstance(kind, str) else kind
    if kind not in OVERRIDE_KINDS:
        raise InvalidInput(detail=f"kind {kind!r} must be holiday or workday", field=f"{where} kind",
                           rule="calendar_override_format")
    return value, kind  # type: ignore[return-value]


@lru_cache(maxsize=4)
def _cached(overrides: str | None) -> BusinessCalendar:
    return BusinessCalendar.load(overrides)


def default_calendar() -> BusinessCalendar:
    """The calendar in force: the official schedule plus ARREARS_CALENDAR_OVERRIDES if set (cached)."""
    return _cached(os.environ.get("ARREARS_CALENDAR_OVERRIDES") or None)
