"""The dashboards' filter form, validated at the edge: each error names its field and rule (the template says
it in the page's language)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.products.catalog import catalog
from arrears.reports.figures import MAX_DAYS, Filters, teams
from arrears.reports.tables import PortfolioDaily

DEFAULT_DAYS = 30


def parse(session: Session, today: date, *, product: str, team: str, start: str, end: str
          ) -> tuple[Filters | None, dict[str, str], dict[str, str]]:
    """(filters or None, errors by field, the values as typed)."""
    typed = {"product": product, "team": team, "start": start, "end": end}
    errors: dict[str, str] = {}
    if product and product not in catalog().products:
        errors["product"] = "unknown"
    if team and team not in {t.code for t in teams()}:
        errors["team"] = "unknown"
    dates: dict[str, date | None] = {}
    for name, text in (("start", start), ("end", end)):
        try:
            dates[name] = date.fromisoformat(text.strip()) if text.strip() else None
        except ValueError:
            errors[name] = "date"
    if errors:
        return None, errors, typed
    last = session.scalar(select(func.max(PortfolioDaily.business_date))) or today
    end_d = dates["end"] or min(last, today)
    start_d = dates["start"] or end_d - timedelta(days=DEFAULT_DAYS - 1)
    if start_d > end_d:
        errors["end"] = "before_start"
    elif (end_d - start_d).days >= MAX_DAYS:
        errors["start"] = "too_long"
    if errors:
        return None, errors, typed
    typed.update(start=start_d.isoformat(), end=end_d.isoformat())
    return Filters(start_d, end_d, product, team), {}, typed
