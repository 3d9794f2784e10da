"""``arrears worker``: runs the outbox worker once (--once) or until stopped (SIGINT/SIGTERM end it between
batches). Channels come from the environment (``channels.channels_from_env``)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

worker_app = typer.Typer(help="Send queued notifications (outbox worker): e-mail, SMS, letters, in-app.",
                         invoke_without_command=True, no_args_is_help=False)
console = Console()
err = Console(stderr=True, soft_wrap=True)


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ARREARS_DATA_DIR "
                                                                 "or ./data).")]
DbUrl = Annotated[str | None, typer.Option("--database-url", help="Database URL (default ARREARS_DATABASE_URL "
                                                                  "or SQLite in the data directory).")]
Channels = Annotated[list[str] | None, typer.Option(help="Only these channels (repeatable): email, sms, letter, app.")]


@worker_app.callback(invoke_without_command=True)
def worker(
    data_dir: DataDir = None,
    database_url: DbUrl = None,
    once: Annotated[bool, typer.Option("--once", help="Run one batch and exit.")] = False,
    interval: Annotated[int, typer.Option(help="Seconds to wait when nothing is due.", min=1)] = 10,
    batch: Annotated[int, typer.Option(help="Messages claimed per batch.", min=1, max=10_000)] = 100,
    max_attempts: Annotated[int, typer.Option(help="Attempts before a message is dead.", min=1)] = 6,
    channel: Channels = None,
) -> None:
    """Send due messages from the outbox."""
    from sqlalchemy.exc import OperationalError

    from arrears.errors import Problem

    try:
        _run(data_dir, database_url, once, interval, batch, max_attempts, channel or [])
    except (Problem, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except OperationalError as exc:
        err.print(f"[red]error:[/red] database: {str(exc.orig).splitlines()[0]}", highlight=False)
        raise typer.Exit(1) from None


def _run(data_dir: Path | None, database_url: str | None, once: bool, interval: int, batch: int,
         max_attempts: int, only: list[str]) -> None:
    from arrears.contact.channels import channels_from_env
    from arrears.contact.worker import RetryPolicy, run_worker
    from arrears.db.engine import make_engine, make_session_factory
    from arrears.db.migrate import current_revision, head_revision
    from arrears.privacy import PersonalDataCipher
    from arrears.settings import load_settings

    settings = load_settings(data_dir, database_url)
    engine = make_engine(settings.database_url)
    if current_revision(engine) != head_revision():
        raise ValueError(f"the database at {settings.database_url} is not initialised or not up to date; "
                         "run `arrears init` first")
    factory = make_session_factory(engine)
    cipher = PersonalDataCipher(settings.secret_key)
    channels = channels_from_env(settings.data_dir, factory, cipher)
    unknown = sorted(set(only) - set(channels))
    if unknown:
        raise ValueError(f"--channel {', '.join(unknown)}: not configured here "
                         f"(configured: {', '.join(sorted(channels))})")
    if only:
        channels = {name: c for name, c in channels.items() if name in only}
    if "email" not in channels and not only:
        err.print("e-mail is not configured (ARREARS_SMTP_HOST): e-mail messages stay queued", highlight=False)
    if "letter" not in channels and not only:
        err.print("no CJK font for letters (ARREARS_LETTER_FONT_DIR): letters stay queued", highlight=False)
    policy = RetryPolicy(max_attempts=max_attempts)
    stop: list[int] = []
    if not once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda number, _frame: stop.append(number))
    while True:
        report = run_worker(factory, channels, cipher=cipher, batch=batch, policy=policy)
        if report.claimed or report.dead or report.held or once:
            console.print(f"claimed {report.claimed}, sent {report.sent}, retrying {report.retrying}, "
                          f"dead {report.dead}, held for quiet hours {report.held}", highlight=False)
        if once or stop:
            break
        if report.claimed < batch:  # nothing more due right now
            for _ in range(interval):
                if stop:
                    break
                time.sleep(1)
    engine.dispose()
