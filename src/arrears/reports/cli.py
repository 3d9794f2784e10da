"""``arrears reports rebuild``: the dashboards' daily aggregates recomputed from the stored snapshots, for a
database whose end-of-day runs predate them (or after a correction). End of day keeps them current itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

reports_app = typer.Typer(help="Dashboard aggregates (docs/dashboards.md).", no_args_is_help=True)


@reports_app.command("rebuild")
def rebuild_cmd(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ARREARS_DATA_DIR "
                                                                     "or ./data).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="Database URL (default "
                                                     "ARREARS_DATABASE_URL or SQLite in the data directory).")] = None,
    since: Annotated[str | None, typer.Option(help="Only business dates from this one, YYYY-MM-DD.")] = None,
) -> None:
    """Recompute portfolio_daily and roll_rate_daily for every completed end-of-day date with a snapshot."""
    from arrears import cli

    @cli.clear_errors
    def run() -> None:
        from arrears.db.engine import unit_of_work
        from arrears.delinquency.snapshots import SnapshotStore
        from arrears.reports.aggregate import rebuild

        settings = cli._settings(data_dir, database_url)
        start = cli._date(since) if since else None
        with unit_of_work(cli._factory(settings)) as session:
            counts = rebuild(session, SnapshotStore(settings.data_dir / "snapshots"), since=start)
        cli.console.print(f"rebuilt {counts['dates']} business date(s): {counts['portfolio_rows']} portfolio rows, "
                          f"{counts['roll_rows']} roll-rate rows")

    run()
