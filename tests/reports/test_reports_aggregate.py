"""The dashboards' daily aggregates (SQLite and PostgreSQL): written by each end of day, equal to a direct count
over the loans' states, roll-rate rows summing to the anchor's counts, recoveries equal to the payments, and
``rebuild`` giving back what end of day wrote."""

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from arrears.cases.tables import Case
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.payments import post_payment
from arrears.reports.aggregate import anchor_date, rebuild
from arrears.reports.tables import PortfolioDaily, RollRateDaily
from support import add_borrower, add_loan, schedule

TODAY = date(2024, 6, 30)
DATES = (date(2024, 2, 20), date(2024, 3, 4), date(2024, 3, 12))


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        b = add_borrower(s)
        ids = {}
        for i in range(6):  # instalments due from Feb, Mar, Apr: some loans fall overdue, some stay current
            ids[i] = add_loan(s, b, f"L{i}", schedule(3, principal=300_000 + 10_000 * i),
                              product_code="consumer_loan" if i % 2 else "inclusive_loan").id
        s.commit()
        for i in (0, 1):  # pay their first instalment on time
            post_payment(s, loan_id=ids[i], amount_fen=200_000, received_on=date(2024, 1, 30),
                         idempotency_key=f"p{i}", actor="t", today=TODAY)
        s.commit()
    store = SnapshotStore(tmp_path / "snapshots")
    run_date(db.factory, store, DATES[0], today=TODAY)
    with db.session() as s:  # a payment between the anchor and the last date: a recovery
        post_payment(s, loan_id=ids[3], amount_fen=50_000, received_on=date(2024, 3, 8), idempotency_key="r3",
                     actor="t", today=TODAY)
        s.commit()
    for day in DATES[1:]:
        run_date(db.factory, store, day, today=TODAY)
    return {"db": db, "store": store, "ids": ids}


def _portfolio(s, day):
    rows = s.execute(select(PortfolioDaily).where(PortfolioDaily.business_date == day)).scalars().all()
    return {(r.product_code, r.team, r.bucket, r.classification): (r.loans, r.balance_fen, r.overdue_fen)
            for r in rows}


def test_portfolio_daily_equals_a_direct_count_over_the_states(book):
    with book["db"].session() as s:
        teams = {c.loan_id: c.team or "" for c in s.scalars(select(Case).where(Case.status == "open"))}
        direct: dict = {}
        for st_ in s.scalars(select(LoanDelinquency).where(LoanDelinquency.fully_paid.is_(False))):
            key = (st_.product_code, teams.get(st_.loan_id, ""), st_.m_bucket, st_.classification)
            n, bal, over = direct.get(key, (0, 0, 0))
            direct[key] = (n + 1, bal + st_.total_outstanding_fen, over + st_.overdue_principal_fen
                           + st_.overdue_interest_fen + st_.overdue_fee_fen + st_.overdue_penalty_fen)
        assert _portfolio(s, DATES[-1]) == direct
        assert sum(v[0] for v in direct.values()) == 6
        assert len({k[2] for k in direct}) >= 2  # loans in more than one bucket on the last date
    for day in DATES[:-1]:  # earlier dates against their snapshots
        snap = book["store"].read(day).to_pylist()
        with book["db"].session() as s:
            got = _portfolio(s, day)
        counted = Counter((r["product_code"], r["m_bucket"], r["classification"]) for r in snap
                          if not r["fully_paid"])
        aggregated = Counter()
        for (product, _team, bucket, cls), (n, _b, _o) in got.items():
            aggregated[(product, bucket, cls)] += n
        assert aggregated == counted and sum(counted.values()) > 0


def test_roll_rows_sum_to_the_anchor_counts_and_recoveries_are_the_payments(book):
    with book["db"].session() as s:
        rows = s.scalars(select(RollRateDaily).where(RollRateDaily.business_date == DATES[-1])).all()
        assert {r.anchor_date for r in rows} == {DATES[0]}  # the last run before March
        starting = Counter()
        for r in s.scalars(select(PortfolioDaily).where(PortfolioDaily.business_date == DATES[0])):
            starting[r.bucket] += r.loans
        rolled = Counter()
        for r in rows:
            rolled[r.from_bucket] += r.loans
        assert rolled == starting
        assert sum(r.recovered_fen for r in rows) == 50_000
        end = {(sd.m_bucket) for sd in s.scalars(select(LoanDelinquency))}
        assert {r.to_bucket for r in rows} <= end | {"paid", "exited"}


def test_rebuild_gives_back_what_end_of_day_wrote(book):
    db = book["db"]
    with db.session() as s:
        before = {d: _portfolio(s, d) for d in DATES}
        roll = sorted((r.business_date, r.product_code, r.team, r.from_bucket, r.to_bucket, r.loans,
                       r.recovered_fen) for r in s.scalars(select(RollRateDaily)))
        s.execute(text("DELETE FROM portfolio_daily"))
        s.execute(text("DELETE FROM roll_rate_daily"))
        counts = rebuild(s, book["store"])
        s.commit()
        assert counts["dates"] == 3
        assert {d: _portfolio(s, d) for d in DATES} == before
        assert sorted((r.business_date, r.product_code, r.team, r.from_bucket, r.to_bucket, r.loans,
                       r.recovered_fen) for r in s.scalars(select(RollRateDaily))) == roll


@given(st.lists(st.dates(date(2023, 1, 1), date(2025, 12, 31)), min_size=0, max_size=30),
       st.dates(date(2023, 1, 1), date(2025, 12, 31)))
def test_the_anchor_is_the_last_run_before_the_month_else_the_months_first(done, day):
    done = sorted(set(done))
    a = anchor_date(done, day)
    month = day.replace(day=1)
    earlier = [d for d in done if d < month]
    if earlier:
        assert a == earlier[-1] and a < month
    else:
        assert month <= a <= day
        assert a == day or (a in done and not any(month <= d < a for d in done))
    assert a <= day and (a == day or a in done) and a >= day - timedelta(days=3 * 366)


def test_the_rebuild_command_restores_the_aggregates_of_an_existing_database(book, tmp_path):
    from alembic import command
    from typer.testing import CliRunner

    from arrears.cli import app
    from arrears.db.migrate import _config

    db = book["db"]
    with db.session() as s:
        before = _portfolio(s, DATES[-1])
        s.execute(text("DELETE FROM portfolio_daily"))
        s.commit()
    cfg = _config()  # the fixture built the schema from the models: mark it at head, as `arrears init` would
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.stamp(cfg, "head")
    result = CliRunner().invoke(app, ["reports", "rebuild", "--data-dir", str(tmp_path), "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert "rebuilt 3 business date(s)" in result.output
    with db.session() as s:
        assert _portfolio(s, DATES[-1]) == before
