"""The `arrears` command. Every command finds its database from --data-dir (default
ARREARS_DATA_DIR, else ./data) or ARREARS_DATABASE_URL; an error is one clear line and exit 1."""

from __future__ import annotations

import functools
import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Callable

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from arrears.contact.cli import worker_app
from arrears.settings import Settings, business_date, load_settings

app = typer.Typer(help="arrears: overdue-loan handling for inclusive finance (普惠金融逾期法务协商还款).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
import_app = typer.Typer(help="Import borrowers, loans (with schedules) and payments from CSV, XLSX or Parquet.",
                         no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
users_app = typer.Typer(help="Staff and borrower sign-ins.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures (see docs/performance.md).", no_args_is_help=True)
for sub, name in ((import_app, "import"), (ledger_app, "ledger"), (audit_app, "audit"), (users_app, "users"),
                  (bench_app, "bench")):
    app.add_typer(sub, name=name)
app.add_typer(worker_app, name="worker")

console = Console()
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ARREARS_DATA_DIR or ./data).")]
DbUrl = Annotated[str | None, typer.Option("--database-url", help="Database URL (default ARREARS_DATABASE_URL or "
                                                                  "SQLite in the data directory).")]
BusinessDate = Annotated[str | None, typer.Option("--date", help="Business date YYYY-MM-DD (default "
                                                                 "ARREARS_BUSINESS_DATE or today in China).")]


def clear_errors(func: Callable) -> Callable:
    """Turns any expected failure into one line on stderr and exit code 1."""
    from sqlalchemy.exc import OperationalError

    from arrears.errors import Problem
    from arrears.products.catalog import PolicyError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return func(*args, **kwargs)
        except Problem as problem:
            err.print(f"[red]error:[/red] {problem}", markup=True, highlight=False, soft_wrap=True)
            for e in problem.errors[:50]:
                err.print(f"  row {e.get('row', '?')} {e.get('column', '')}: {e.get('message', '')} [{e.get('rule', '')}]",
                          highlight=False, markup=False)
        except (PolicyError, ValueError, OSError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
        except OperationalError as exc:
            err.print(f"[red]error:[/red] database: {str(exc.orig).splitlines()[0]}", highlight=False)
        raise typer.Exit(1)
    return wrapper


def _settings(data_dir: Path | None, database_url: str | None) -> Settings:
    return load_settings(data_dir, database_url)


def _date(text: str | None) -> date:
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"--date {text!r} is not a date YYYY-MM-DD") from None
    return business_date()


def _factory(settings: Settings):  # noqa: ANN202
    from arrears.db.engine import make_engine, make_session_factory
    from arrears.db.migrate import current_revision, head_revision

    engine = make_engine(settings.database_url)
    if current_revision(engine) != head_revision():
        raise ValueError(f"the database at {settings.database_url} is not initialised or not up to date; "
                         "run `arrears init` first")
    return make_session_factory(engine)


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                    transient=True)


@app.command()
@clear_errors
def init(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Create or upgrade the database schema."""
    from arrears.db.engine import make_engine
    from arrears.db.migrate import current_revision, upgrade

    settings = _settings(data_dir, database_url)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    console.print(f"database ready at revision {current_revision(engine)}: {settings.database_url}")


@app.command()
@clear_errors
def demo(data_dir: DataDir = None, port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
         host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
         loans: Annotated[int, typer.Option(help="How many loans to generate.")] = 5000,
         seed: Annotated[int, typer.Option(help="Random seed (same seed, same portfolio).")] = 20261123,
         business: BusinessDate = None,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the database and exit.")] = False) -> None:
    """Build a fresh demo database (SQLite) with a generated portfolio, then serve it."""
    from arrears.demo.build import build_demo

    base = load_settings(data_dir)  # the demo always builds a fresh SQLite file in the data directory
    settings = load_settings(base.data_dir, f"sqlite:///{base.data_dir / 'arrears.db'}")
    when = _date(business)
    with _spinner() as progress:
        task = progress.add_task("demo", total=None)
        summary = build_demo(settings, loans=loans, business_date=when, seed=seed,
                             progress=lambda msg: progress.update(task, description=msg))
    console.print(f"demo portfolio: {summary.borrowers} borrowers, {summary.loans} loans, "
                  f"{summary.payments} payments as of {when} (files in {summary.files})")
    table = Table(title="Demo sign-ins 演示账号")
    for column in ("username", "password", "role"):
        table.add_column(column)
    for row in summary.logins:
        table.add_row(*row)
    console.print(table)
    if not no_serve:
        _serve(settings, host, port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from arrears.web.app import create_app

    console.print(f"serving on http://{host}:{port}/  (API: http://{host}:{port}/api/v1/docs) — Ctrl+C to stop")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
@clear_errors
def serve(data_dir: DataDir = None, database_url: DbUrl = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 8000) -> None:
    """Serve the web pages and the API."""
    settings = _settings(data_dir, database_url)
    _factory(settings)  # refuse to serve an uninitialised database
    _serve(settings, host, port)


def _import(kind: str, file: Path, data_dir: Path | None, database_url: str | None, skip_invalid: bool,
            rejects: Path | None, when: str | None, **extra) -> None:  # noqa: ANN003
    from arrears.db.engine import unit_of_work
    from arrears.loans.imports import borrowers, loans, payments
    from arrears.privacy import PersonalDataCipher

    settings = _settings(data_dir, database_url)
    factory = _factory(settings)
    with _spinner() as progress, unit_of_work(factory) as session:
        progress.add_task(f"importing {kind} from {file.name}", total=None)
        if kind == "borrowers":
            report = borrowers.import_borrowers(session, file, PersonalDataCipher(settings.secret_key), actor="cli",
                                                skip_invalid=skip_invalid, rejects_path=rejects)
        elif kind == "loans":
            report = loans.import_loans(session, file, actor="cli", today=_date(when), skip_invalid=skip_invalid,
                                        rejects_path=rejects, **extra)
        else:
            report = payments.import_payments(session, file, actor="cli", today=_date(when),
                                              skip_invalid=skip_invalid, rejects_path=rejects)
    console.print(f"{kind}: {report.rows} rows, {report.imported} imported, {report.rejected} rejected"
                  + (f"; rejects written to {report.rejects_path}" if report.rejects_path else ""))


SkipInvalid = Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows; write bad ones to a rejects file.")]
Rejects = Annotated[Path | None, typer.Option("--rejects", help="Where to write rejected rows (CSV).")]


@import_app.command("borrowers")
@clear_errors
def import_borrowers_cmd(file: Path, data_dir: DataDir = None, database_url: DbUrl = None,
                         skip_invalid: SkipInvalid = False, rejects: Rejects = None) -> None:
    """Borrowers: borrower_no, name, id_number, phone [, email, address, region_code, timezone]."""
    _import("borrowers", file, data_dir, database_url, skip_invalid, rejects, None)


@import_app.command("loans")
@clear_errors
def import_loans_cmd(file: Path, data_dir: DataDir = None, database_url: DbUrl = None,
                     schedules: Annotated[Path | None, typer.Option(help="Schedules file (loan_no, seq, due_on, "
                                                                         "principal, interest [, fee]).")] = None,
                     skip_invalid: SkipInvalid = False, rejects: Rejects = None, business: BusinessDate = None) -> None:
    """Loans: loan_no, borrower_no, product_code, repayment_method, principal, annual_rate, term,
    disbursed_on, first_due_on. Schedules are generated unless given."""
    _import("loans", file, data_dir, database_url, skip_invalid, rejects, business, schedules_path=schedules)


@import_app.command("payments")
@clear_errors
def import_payments_cmd(file: Path, data_dir: DataDir = None, database_url: DbUrl = None,
                        skip_invalid: SkipInvalid = False, rejects: Rejects = None,
                        business: BusinessDate = None) -> None:
    """Payments: loan_no, amount, received_on [, idempotency_key, channel, external_ref]."""
    _import("payments", file, data_dir, database_url, skip_invalid, rejects, business)


@app.command()
@clear_errors
def eod(business: BusinessDate = None,
        through: Annotated[str | None, typer.Option("--through", help="Catch up every missed date up to this one, "
                                                                       "in order.")] = None,
        data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """End of day: days past due, penalties, buckets, classification and transitions for every loan."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from arrears.delinquency.service import dates_to_run, exclusive, run_date
    from arrears.delinquency.snapshots import SnapshotStore

    if business and through:
        raise ValueError("give --date or --through, not both")
    settings = _settings(data_dir, database_url)
    factory = _factory(settings)
    today = business_date()
    target = _date(through or business)
    dates = dates_to_run(factory, target) if through else [target]
    store = SnapshotStore(settings.data_dir / "snapshots")
    with exclusive(settings.data_dir), Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("end of day", total=len(dates))
        for day in dates:
            progress.update(task, description=f"end of day {day}")
            summary = run_date(factory, store, day, today=today)
            progress.advance(task)
    _print_summary(summary)


def _print_summary(summary) -> None:  # noqa: ANN001
    from arrears.money import format_yuan

    timings = ", ".join(f"{name.removesuffix('_ms')} {ms} ms" for name, ms in summary.milliseconds.items())
    console.print(f"[bold]end of day {summary.business_date}[/bold]: {summary.loans} loans ({timings})")
    grid = Table.grid(padding=(0, 3))
    for title, counts in (("buckets", summary.buckets), ("classification", summary.classes),
                          ("transitions", summary.transitions)):
        grid.add_row(f"[bold]{title}[/bold]", "  ".join(f"{k}: {v}" for k, v in counts.items()) or "—")
    grid.add_row("[bold]amounts (yuan)[/bold]", "  ".join(f"{k.removesuffix('_fen')}: {format_yuan(v)}"
                                                         for k, v in summary.amounts.items()))
    grid.add_row("[bold]penalty posted[/bold]", f"{summary.penalty_changes} instalments, "
                                                f"{format_yuan(summary.penalty_delta_fen)} yuan")
    grid.add_row("[bold]cases[/bold]", "  ".join(f"{k}: {v}" for k, v in summary.cases.items()) or "—")
    console.print(grid)
    if summary.rejected:
        console.print(f"[yellow]{len(summary.rejected)} loan(s) rejected:[/yellow]")
        for row in summary.rejected[:20]:
            console.print(f"  loan {row['loan_id']}: {row['reason']}", highlight=False)


@ledger_app.command("check")
@clear_errors
def ledger_check(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Prove debits equal credits and every loan's balances equal its postings; exit 1 if not."""
    from arrears.db.engine import unit_of_work
    from arrears.ledger.service import check_ledger
    from arrears.money import format_yuan

    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        report = check_ledger(session)
    console.print(f"{report.entries} entries, {report.postings} postings; debits {format_yuan(report.total_debit_fen)} "
                  f"credits {format_yuan(report.total_credit_fen)}")
    if not report.ok:
        for problem in report.problems:
            err.print(f"[red]✗[/red] {problem}", highlight=False)
        err.print(f"[red]ledger check failed: {len(report.problems)} problem(s)[/red]")
        raise typer.Exit(1)
    console.print("[green]ledger check passed[/green]")


@audit_app.command("verify")
@clear_errors
def audit_verify(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Recompute every event hash chain; exit 1 on any altered or missing event."""
    from arrears.audit.service import verify_events
    from arrears.db.engine import unit_of_work

    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        checked, problems = verify_events(session)
    for p in problems:
        err.print(f"[red]✗[/red] event {p.event_id} ({p.subject}): {p.problem}", highlight=False)
    if problems:
        err.print(f"[red]audit verify failed: {len(problems)} problem(s) in {checked} events[/red]")
        raise typer.Exit(1)
    console.print(f"[green]audit verify passed: {checked} events[/green]")


@users_app.command("add")
@clear_errors
def users_add(username: str, role: Annotated[str, typer.Option(help="admin, supervisor, negotiator, collector, "
                                                                    "legal, compliance, advisor or borrower")],
              display_name: Annotated[str, typer.Option(help="Name shown in pages.")] = "",
              team: Annotated[str | None, typer.Option(help="Team.")] = None,
              data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Add a staff sign-in; the password is read from standard input (or prompted)."""
    from arrears.auth.service import create_user
    from arrears.db.engine import unit_of_work

    password = sys.stdin.readline().strip() if not sys.stdin.isatty() else typer.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        user = create_user(session, username=username, display_name=display_name or username, password=password,
                           role=role, actor="cli", team=team)
    console.print(f"user {user.username} ({user.role}) created")


@bench_app.command("import")
@clear_errors
def bench_import(loans: Annotated[int, typer.Option(help="Loans to import.")] = 100_000,
                 database_url: DbUrl = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Import N borrowers and N loans (schedules generated) into a fresh database and time it."""
    from arrears.bench.imports import run_import_bench

    figures = run_import_bench(loans, database_url, progress=None if as_json else err)
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            console.print(f"{key:>24}: {value}")


@bench_app.command("eod")
@clear_errors
def bench_eod(loans: Annotated[int, typer.Option(help="Loans in the generated portfolio.")] = 1_000_000,
              sample: Annotated[int, typer.Option(help="Loans the reference runs on (scaled to N).")] = 2000,
              incremental: Annotated[bool, typer.Option(help="Also time the next business date: an incremental "
                                                                 "run, then a full one to compare.")] = False,
              database: Annotated[str | None, typer.Option(
                  "--database", help="A PostgreSQL URL: also time the round trip (read inputs, engine, write "
                                     "results) in a fresh schema there.")] = None,
              as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """End-of-day engine vs its floor and the reference implementation."""
    from arrears.bench.eod import run_eod_bench

    figures = run_eod_bench(loans, sample=sample, incremental=incremental, database_url=database,
                            progress=None if as_json else err)
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            console.print(f"{key:>24}: {value}")


if __name__ == "__main__":
    app()
