"""The dashboard figures (docs/dashboards.md), each filtered by product, team and period. Over-time figures read
the daily aggregates (``tables.py``); the rest read the capabilities' own tables with bounded, grouped queries.

Every figure is a ``Figure``: a name, typed columns and rows of codes, dates, counts, fen and ``Decimal`` rates.
Pages and the XLSX export show the same ``Figure`` objects, so the file always holds the page's numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from arrears.agreements.tables import Agreement
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.complaints.tables import Complaint
from arrears.db.base import as_date
from arrears.delinquency.tables import EodRun
from arrears.loans.tables import Loan
from arrears.negotiation.rounds import LIVE
from arrears.negotiation.tables import Offer
from arrears.reports.tables import PortfolioDaily, RollRateDaily
from arrears.settings import BUSINESS_TZ

CURRENT = "M0"  # the M-bucket of a loan not overdue
ROLL_TO_EXTRA = ("paid", "exited")
MAX_DAYS = 731  # a period longer than two years is refused at the edge


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    product: str = ""
    team: str = ""


@dataclass(frozen=True)
class Figure:
    """``columns``: (key, kind) with kind in text | date | count | fen | rate."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows: list[tuple] = field(default_factory=list)


def ratio(part: int, whole: int) -> Decimal | None:
    """part ÷ whole to 4 places (half up), None when nothing was measured."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _bounds(f: Filters) -> tuple[datetime, datetime]:
    """The period's start and end as instants: business-time-zone days [start 00:00, end + 1 00:00)."""
    tz = ZoneInfo(BUSINESS_TZ)
    return (datetime.combine(f.start, time(), tz), datetime.combine(f.end + timedelta(days=1), time(), tz))


def _by_product_team(stmt, f: Filters, product_col, team_col):
    if f.product:
        stmt = stmt.where(product_col == f.product)
    if f.team:
        stmt = stmt.where(team_col == f.team)
    return stmt


def _loan_filters(stmt, f: Filters, loan_id_col, case_id_col=None):
    """Product through the loan; team through the row's case, or any case of the loan when the row has none."""
    if f.product:
        stmt = stmt.where(exists().where(Loan.id == loan_id_col, Loan.product_code == f.product))
    if f.team:
        on = Case.id == case_id_col if case_id_col is not None else Case.loan_id == loan_id_col
        stmt = stmt.where(exists().where(on, Case.team == f.team))
    return stmt


MAX_POINTS = 62  # a longer period is drawn from the last business date of each week (or month) in it


def series_dates(session: Session, f: Filters) -> list[date]:
    """The completed business dates in the period, thinned to at most MAX_POINTS: every date, else the last date
    of each ISO week, else of each month (a portfolio is a stock: its value at a period's end stands for it)."""
    return thin(_completed(session, f))


def _completed(session: Session, f: Filters) -> list[date]:
    return [as_date(d) for d in session.scalars(
        select(EodRun.business_date).where(EodRun.status == "complete", EodRun.business_date.between(f.start, f.end))
        .order_by(EodRun.business_date))]


GRANULARITIES = ("day", "week", "month")  # what one point of a series stands for, as ``thinned`` picked it
_PERIOD_KEYS = (None, lambda d: d.isocalendar()[:2], lambda d: (d.year, d.month))


def thinned(done: list[date]) -> tuple[list[date], str]:
    """Sorted dates → (all of them if few enough, else the last of each ISO week, else the last of each month;
    which of the three: ``GRANULARITIES``)."""
    for key, granularity in zip(_PERIOD_KEYS, GRANULARITIES, strict=True):
        picked = done if key is None else [d for i, d in enumerate(done) if i + 1 == len(done)
                                           or key(done[i + 1]) != key(d)]
        if len(picked) <= MAX_POINTS:
            return picked, granularity
    return picked, granularity


def thin(done: list[date]) -> list[date]:
    """Sorted dates → all of them if few enough, else the last of each ISO week, else the last of each month."""
    return thinned(done)[0]


def portfolio_series(session: Session, f: Filters, by: str, dates: list[date] | None = None) -> Figure:
    """Loans and balance per business date (``series_dates``) and bucket (``by='bucket'``) or classification."""
    level = getattr(PortfolioDaily, by)
    dates = series_dates(session, f) if dates is None else dates
    stmt = select(PortfolioDaily.business_date, level, func.sum(PortfolioDaily.loans),
                  func.sum(PortfolioDaily.balance_fen), func.sum(PortfolioDaily.overdue_fen)) \
        .where(PortfolioDaily.business_date.in_(dates)) \
        .group_by(PortfolioDaily.business_date, level).order_by(PortfolioDaily.business_date, level)
    stmt = _by_product_team(stmt, f, PortfolioDaily.product_code, PortfolioDaily.team)
    rows = [(d, code, int(n), int(b), int(o)) for d, code, n, b, o in session.execute(stmt)] if dates else []
    return Figure(f"portfolio_{by}", (("business_date", "date"), (by, "text"), ("loans", "count"),
                                      ("balance_fen", "fen"), ("overdue_fen", "fen")), rows)


def roll_date(session: Session, f: Filters) -> date | None:
    """The last aggregated date in the period: its month-to-date roll is the one shown."""
    return session.scalar(select(func.max(RollRateDaily.business_date))
                          .where(RollRateDaily.business_date.between(f.start, f.end)))


def roll_matrix(session: Session, f: Filters) -> tuple[Figure, date | None, date | None]:
    """(from bucket, to bucket, loans, balances, recovered) on the period's last aggregated date, with that date
    and its anchor."""
    on = roll_date(session, f)
    columns = (("from_bucket", "text"), ("to_bucket", "text"), ("loans", "count"), ("from_balance_fen", "fen"),
               ("to_balance_fen", "fen"), ("recovered_fen", "fen"))
    if on is None:
        return Figure("roll_rate", columns), None, None
    r = RollRateDaily
    stmt = select(r.from_bucket, r.to_bucket, func.sum(r.loans), func.sum(r.from_balance_fen),
                  func.sum(r.to_balance_fen), func.sum(r.recovered_fen)).where(r.business_date == on) \
        .group_by(r.from_bucket, r.to_bucket).order_by(r.from_bucket, r.to_bucket)
    stmt = _by_product_team(stmt, f, r.product_code, r.team)
    rows = [(a, b, int(n), int(fb), int(tb), int(rec)) for a, b, n, fb, tb, rec in session.execute(stmt)]
    anchor = session.scalar(select(func.min(r.anchor_date)).where(r.business_date == on))
    return Figure("roll_rate", columns, rows), on, anchor


def rates(session: Session, f: Filters, roll: Figure) -> Figure:
    """Cure, recovery, promise-kept and redefault rates with what each is measured on."""
    overdue = [row for row in roll.rows if row[0] != CURRENT]
    started = sum(row[2] for row in overdue)
    cured = sum(row[2] for row in overdue if row[1] in (CURRENT, "paid"))
    balance = sum(row[3] for row in overdue)
    recovered = sum(row[5] for row in overdue)
    kept, broken = promise_counts(session, f)
    agreements = {k: n for k, n in agreement_outcomes(session, f).rows}
    executed = sum(agreements.values())
    breached = agreements.get("breached", 0)
    columns = (("rate", "text"), ("value", "rate"), ("numerator", "count"), ("denominator", "count"),
               ("numerator_fen", "fen"), ("denominator_fen", "fen"))
    return Figure("rates", columns, [
        ("cure_rate", ratio(cured, started), cured, started, None, None),
        ("recovery_rate", ratio(recovered, balance), None, None, recovered, balance),
        ("promise_kept_rate", ratio(kept, kept + broken), kept, kept + broken, None, None),
        ("redefault_rate", ratio(breached, executed), breached, executed, None, None),
    ])


def promise_counts(session: Session, f: Filters) -> tuple[int, int]:
    """Promises resolved in the period: (kept, broken), as ``cases.promises.promise_stats`` counts them."""
    stmt = select(PromiseToPay.status, func.count()).where(
        PromiseToPay.status.in_(("kept", "broken")), PromiseToPay.resolved_on.between(f.start, f.end)) \
        .group_by(PromiseToPay.status)
    counts = dict(session.execute(_loan_filters(stmt, f, PromiseToPay.loan_id, PromiseToPay.case_id)).all())
    return int(counts.get("kept", 0)), int(counts.get("broken", 0))


def offer_outcomes(session: Session, f: Filters, now: datetime) -> Figure:
    """Offers made in the period by outcome: accepted, rejected (or declined), expired, withdrawn, open."""
    start, end = _bounds(f)
    outcome = case((Offer.status == "accepted", literal("accepted")),
                   (Offer.status.in_(("rejected", "declined")), literal("rejected")),
                   (and_(Offer.status.in_(LIVE), Offer.expires_at <= now), literal("expired")),
                   (Offer.status.in_(LIVE), literal("open")), else_=literal("withdrawn"))
    stmt = select(outcome, func.count()).where(Offer.created_at >= start, Offer.created_at < end) \
        .group_by(outcome).order_by(outcome)
    rows = [(k, int(n)) for k, n in session.execute(_loan_filters(stmt, f, Offer.loan_id))]
    return Figure("offers", (("outcome", "text"), ("count", "count")), rows)


def agreement_outcomes(session: Session, f: Filters) -> Figure:
    """Agreements executed (countersigned into force) in the period, by where they stand now."""
    state = case((Agreement.status == "countersigned", literal("in_force")), else_=Agreement.status)
    stmt = select(state, func.count()).where(Agreement.executed_on.between(f.start, f.end),
                                             Agreement.status.in_(("countersigned", "completed", "breached"))) \
        .group_by(state).order_by(state)
    if f.product:
        stmt = stmt.where(Agreement.product_code == f.product)
    if f.team:
        stmt = stmt.where(exists().where(Case.loan_id == Agreement.loan_id, Case.team == f.team))
    return Figure("agreements", (("state", "text"), ("count", "count")),
                  [(k, int(n)) for k, n in session.execute(stmt)])


def complaints(session: Session, f: Filters, today: date) -> Figure:
    """Complaints filed in the period by category, and of those the SLA breaches: answered after their SLA day
    (business time zone), or still open past it. Complaints are few: counted here, not in SQL date arithmetic
    that differs between the backends."""
    start, end = _bounds(f)
    tz = ZoneInfo(BUSINESS_TZ)
    stmt = select(Complaint.category, Complaint.sla_due_on, Complaint.resolved_at).where(
        Complaint.filed_at >= start, Complaint.filed_at < end)
    counts: dict[str, list[int]] = {}
    for category, due, resolved in session.execute(_loan_filters(stmt, f, Complaint.loan_id, Complaint.case_id)):
        late = resolved.astimezone(tz).date() > due if resolved is not None else due < today
        entry = counts.setdefault(category, [0, 0])
        entry[0] += 1
        entry[1] += int(late)
    return Figure("complaints", (("category", "text"), ("filed", "count"), ("sla_breached", "count")),
                  [(k, v[0], v[1]) for k, v in sorted(counts.items())])


def blocked_contacts(session: Session, f: Filters) -> Figure:
    """Contact attempts the compliance guard refused in the period, by the rule that refused them."""
    start, end = _bounds(f)
    stmt = select(ContactLog.refused_rule, func.count()).where(
        ContactLog.allowed.is_(False), ContactLog.at >= start, ContactLog.at < end) \
        .group_by(ContactLog.refused_rule).order_by(func.count().desc(), ContactLog.refused_rule)
    rows = [(k or "", int(n)) for k, n in session.execute(_loan_filters(stmt, f, ContactLog.loan_id,
                                                                         ContactLog.case_id))]
    return Figure("blocked_contacts", (("rule", "text"), ("blocked", "count")), rows)


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    figures: dict[str, Figure]
    roll_on: date | None
    roll_anchor: date | None
    granularity: str = "day"  # of the portfolio series: what one point stands for (``thinned``)


def dashboard(session: Session, f: Filters, *, today: date, now: datetime) -> Dashboard:
    """Every figure of the dashboards page and its export."""
    roll, on, anchor = roll_matrix(session, f)
    dates, granularity = thinned(_completed(session, f))
    figures = [portfolio_series(session, f, "bucket", dates), portfolio_series(session, f, "classification", dates),
               roll, rates(session, f, roll), offer_outcomes(session, f, now), agreement_outcomes(session, f),
               complaints(session, f, today), blocked_contacts(session, f)]
    return Dashboard(f, {fig.name: fig for fig in figures}, on, anchor, granularity)


def teams() -> list:
    """The collection teams for the filter (queues' teams.yaml), plus '' for loans without a case."""
    from arrears.queues.config import teams as configured

    return list(configured().teams)
