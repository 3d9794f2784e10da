"""The effective due dates the engine needs: each distinct contractual due date up to the business
date, moved to the next business day where a product's holiday rule says so. A loop over distinct
dates (a few thousand at most), never over loans."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pyarrow as pa

from arrears.calendar import BusinessCalendar
from arrears.delinquency.model import DUE_DATES


def build_due_dates(due_dates: Iterable[date], business_date: date, calendar: BusinessCalendar) -> pa.Table:
    days = sorted({d for d in due_dates if d <= business_date})
    rules, dues, effective = [], [], []
    for day in days:
        for rule, moved in (("none", day), ("next_business_day", calendar.next_business_day(day))):
            rules.append(rule)
            dues.append(day)
            effective.append(moved)
    return pa.table([pa.array(rules, pa.string()), pa.array(dues, pa.date32()), pa.array(effective, pa.date32())],
                    schema=DUE_DATES)
