"""Builds the demo database: a fresh schema, the generated portfolio written as files and loaded
through the same importers an institution uses, one sign-in for every role, and after the first end of day the
in-flight stories every desk starts with (``demo.stories``)."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from arrears.auth.service import create_user
from arrears.calendar import BusinessCalendar, default_calendar
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.migrate import upgrade
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.demo.generator import DemoPortfolio, generate
from arrears.demo.stories import seed_stories
from arrears.loans.imports.borrowers import import_borrowers
from arrears.loans.imports.loans import import_loans
from arrears.loans.imports.payments import import_payments
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.settings import Settings

DEMO_PASSWORD = "demo-pass-2026"
STAFF = (  # username, role, display name, team
    ("admin", "admin", "系统管理员", None),
    ("supervisor", "supervisor", "王主管", "催收一组"),
    ("negotiator", "negotiator", "李法务", "法务协商组"),
    ("collector", "collector", "赵催收", "催收一组"),
    ("collector2", "collector", "钱催收", "催收一组"),  # field visits take two collectors (cn profiles)
    ("legal", "legal", "陈律师", "法务部"),
    ("compliance", "compliance", "周合规", "合规部"),
    ("advisor", "advisor", "孙顾问", None),
)


@dataclass
class DemoSummary:
    borrowers: int
    loans: int
    payments: int
    logins: list[tuple[str, str, str]]  # username, password, role
    files: Path


def _write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def demo_calendar(business_date: date) -> BusinessCalendar:
    """The shipped calendar, plus weekends-only for a year it has no official schedule for, so the demo runs on
    any day. Production refuses such a year until the institution loads the official schedule (calendar.py)."""
    calendar = default_calendar()
    years = {business_date.year - 1, business_date.year, business_date.year + 1} - set(calendar.years)
    if not years:
        return calendar
    return dataclasses.replace(calendar, years=calendar.years | years,
                               source=f"{calendar.source}; demo only: weekends-only for {sorted(years)}")


def fresh_sqlite(settings: Settings) -> None:
    """The demo always starts from an empty database file (and no snapshots of an older one)."""
    shutil.rmtree(settings.data_dir / "snapshots", ignore_errors=True)
    if settings.is_sqlite:
        db_file = Path(settings.database_url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_file) + suffix).unlink(missing_ok=True)


def build_demo(settings: Settings, *, loans: int, business_date: date, seed: int, progress=None,  # noqa: ANN001
               simulate_days: int = 0) -> DemoSummary:
    """A fresh demo database. With ``simulate_days`` the portfolio is generated as of that many business days
    before ``business_date`` and ``demo.simulate`` then works it day by day up to ``business_date``."""
    step = progress or (lambda _msg: None)
    fresh_sqlite(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    calendar = demo_calendar(business_date)
    start = calendar.add_business_days(business_date, -simulate_days) if simulate_days else business_date
    cipher = PersonalDataCipher(settings.secret_key)
    store = SnapshotStore(settings.data_dir / "snapshots")
    logins: list[tuple[str, str, str]] = []
    portfolio = load_portfolio(factory, settings.data_dir / "demo", cipher, store, loans=loans, business_date=start,
                               seed=seed, step=step, calendar=demo_calendar(start),
                               before_eod=lambda p: logins.extend(create_sign_ins(factory, p.behaviours)))
    step("in-flight stories: applications, negotiations, agreements, legal, write-off, complaint")
    borrower_login = next(username for username, _, role in logins if role == "borrower")
    seed_stories(factory, cipher, business_date=start, seed=seed, behaviours=portfolio.behaviours,
                 borrower_login=borrower_login)
    if simulate_days:
        from arrears.demo.simulate import simulate

        simulate(factory, store, cipher, start=start, days=simulate_days, seed=seed, calendar=calendar,
                 evidence_root=settings.data_dir / "files", step=step)
    engine.dispose()
    return DemoSummary(len(portfolio.borrowers), len(portfolio.loans), len(portfolio.payments), logins,
                       settings.data_dir / "demo")


def load_portfolio(factory, files: Path, cipher: PersonalDataCipher, store: SnapshotStore, *, loans: int,  # noqa: ANN001
                   business_date: date, seed: int, step, calendar: BusinessCalendar,  # noqa: ANN001
                   before_eod: Callable[[DemoPortfolio], None] | None = None) -> DemoPortfolio:
    """Generates the portfolio, writes it as files, loads it through the importers and runs end of day (with the
    cipher: the strategy's messages are queued). ``before_eod`` runs just before it — the demo creates its
    sign-ins there, so the first end of day already assigns work to the demo collectors."""
    step("generating portfolio")
    portfolio = generate(loans, business_date, catalog(), seed=seed)
    files.mkdir(parents=True, exist_ok=True)
    for name, rows in (("borrowers", portfolio.borrowers), ("loans", portfolio.loans),
                       ("payments", portfolio.payments)):
        _write_csv(files / f"{name}.csv", rows)
    step("importing borrowers")
    with unit_of_work(factory) as s:
        import_borrowers(s, files / "borrowers.csv", cipher, actor="demo")
    step("importing loans and schedules")
    with unit_of_work(factory) as s:
        import_loans(s, files / "loans.csv", actor="demo", today=business_date)
    step("posting payment history")
    with unit_of_work(factory) as s:
        import_payments(s, files / "payments.csv", actor="demo", today=business_date)
    if before_eod is not None:
        step("creating sign-ins")
        before_eod(portfolio)
    step("end of day")
    run_date(factory, store, business_date, today=business_date, calendar=calendar, cipher=cipher)
    return portfolio


def create_sign_ins(factory, behaviours: dict[str, str]) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """A sign-in for every staff role and one for a borrower; (username, password, role) each."""
    logins = []
    with unit_of_work(factory) as s:
        for username, role, name, team in STAFF:
            create_user(s, username=username, display_name=name, password=DEMO_PASSWORD, role=role,
                        actor="demo", team=team)
            logins.append((username, DEMO_PASSWORD, role))
        # The borrower sign-in belongs to someone hit by a hardship shock: the story the product is for.
        loan_no = next(no for no, b in sorted(behaviours.items()) if b.startswith("hardship"))
        borrower_id = s.scalar(select(Loan.borrower_id).where(Loan.loan_no == loan_no))
        borrower_no = s.scalar(select(Borrower.borrower_no).where(Borrower.id == borrower_id))
        username = borrower_no.lower()
        create_user(s, username=username, display_name="借款人", password=DEMO_PASSWORD, role="borrower",
                    actor="demo", borrower_id=borrower_id)
        logins.append((username, DEMO_PASSWORD, "borrower"))
    return logins
