"""Running end of day: one business date, or every missed date up to one (catch-up), in order.

A run reads its inputs in one transaction, computes off-line (the engine), then writes all database results in
one transaction and meanwhile the day's snapshot partition (atomically), committing once both are done. Killed at
any point, the last committed date stays readable and complete; running that date again finishes the work and
gives the same result (penalties are posted as deltas against what is stored).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc
from sqlalchemy.orm import Session, sessionmaker

from arrears.agreements.eod import agreements_after_eod
from arrears.calendar import BusinessCalendar, default_calendar
from arrears.cases.service import sync_cases_after_eod
from arrears.db.base import utcnow
from arrears.db.engine import unit_of_work
from arrears.delinquency.due_dates import build_due_dates
from arrears.delinquency.incremental import run_incremental
from arrears.delinquency.io import KeptInputs, read_inputs, reads_changed_only
from arrears.delinquency.model import EngineInputs, EngineOutputs
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import completed_dates, write_results
from arrears.delinquency.watermark import changed_since, journal_watermark, stored_watermark
from arrears.errors import Conflict, InvalidInput
from arrears.loans.bulk_credit import apply_credit_bulk
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import Catalog, catalog
from arrears.reports.aggregate import aggregate_day
from arrears.strategy.predue import run_pre_delinquency
from arrears.strategy.service import run_strategy

Engine = Callable[[EngineInputs, date, Catalog], EngineOutputs]


@dataclass
class RunSummary:
    business_date: date
    loans: int
    rejected: list[dict]
    buckets: dict[str, int]
    classes: dict[str, int]
    transitions: dict[str, int]
    amounts: dict[str, int]
    milliseconds: dict[str, int] = field(default_factory=dict)
    penalty_changes: int = 0
    penalty_delta_fen: int = 0
    cases: dict[str, int] = field(default_factory=dict)
    agreements: dict = field(default_factory=dict)
    strategy: dict[str, int] = field(default_factory=dict)
    watermark: int = 0  # the journal's highest id before the inputs were read (watermark.py)
    mode: str = "full"  # or "incremental": only the loans that can change went through the engine
    recomputed: int = 0  # loans that went through the engine


def _pause(stage: str) -> None:
    """Test hook: with ARREARS_EOD_PAUSE_AT=<stage>, write ARREARS_EOD_PAUSE_FILE and wait to be killed."""
    if os.environ.get("ARREARS_EOD_PAUSE_AT") == stage:
        Path(os.environ["ARREARS_EOD_PAUSE_FILE"]).write_text(stage)
        time.sleep(600)


@contextmanager
def exclusive(lock_dir: Path) -> Iterator[None]:
    """One end-of-day at a time per data directory."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "eod.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict("another end-of-day run is in progress", rule="eod.single_run") from None
        yield


def run_date(factory: sessionmaker[Session], store: SnapshotStore, business_date: date, *, today: date,
             cat: Catalog | None = None, calendar: BusinessCalendar | None = None,
             engine: Engine | None = None, cipher: PersonalDataCipher | None = None,
             incremental: bool = True) -> RunSummary:
    """One business date, start to finish. With the institution's ``cipher`` the strategy's messages are rendered
    into the outbox and settlement certificates issued in the same transaction; without it (tests, the demo
    build) the messages stay staged for ``arrears strategy run``.

    When the last complete date before ``business_date`` has its snapshot, watermark and kept rows (``Carry``), the
    run is incremental (``incremental.run_incremental``: the loans changed since that run's watermark, or whose
    dates moved, go through the engine; those that can move only by the days passed are continued from the kept
    rows; the rest are carried over): the same results as a full run, which it falls back to otherwise (a first
    run, a lost snapshot or kept rows, ``incremental=False`` or a given ``engine``)."""
    if business_date > today:
        raise InvalidInput(f"business date {business_date} is in the future (today is {today})",
                           field="date", rule="eod.date_not_future")
    cat, calendar = cat or catalog(), calendar or default_calendar()
    chosen = engine
    if engine is None:
        from arrears.delinquency.engine import run as engine
    started, clock = utcnow(), time.perf_counter_ns()
    ms: dict[str, int] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter_ns()
        ms[name] = (now - clock) // 1_000_000
        clock = now

    with unit_of_work(factory) as session:  # held credit pays what has fallen due, before measuring arrears
        credit = apply_credit_bulk(session, business_date, cat)
    with unit_of_work(factory) as session:  # its own transaction: the lock it may take ends with it
        watermark = journal_watermark(session)  # before the read: a change racing it is seen again next time
    with unit_of_work(factory) as session:
        done = [d for d in completed_dates(session) if d < business_date]
        since = stored_watermark(session, done[-1]) if done and incremental and chosen is None else None
        changed = changed_since(session, since, done[-1], business_date) if since is not None else None
        keeps = reads_changed_only(session)
        kept = store.read_inputs(done[-1]) if keeps and changed is not None else None
        loans, instalments, settlements = read_inputs(
            session, business_date, kept=KeptInputs(**kept, changed=changed) if kept else None)
        del kept  # as large as the instalments read: not held through the engine's run
    previous = store.read(done[-1]) if done else EngineInputs.empty_previous()
    due = build_due_dates(pc.unique(instalments.column("due_on")).to_pylist(), business_date, calendar)
    lap("read_ms")
    inputs = EngineInputs(loans, instalments, settlements, due, previous)
    carry = store.read_carry(done[-1]) if changed is not None and previous.num_rows else None
    if carry is not None:
        result = run_incremental(inputs, business_date, cat, changed=changed, carry=carry)
        outputs, mode, recomputed = result.outputs, "incremental", result.recomputed
    elif chosen is None:  # ours, in full: keeps what the next date continues from
        outputs, mode, recomputed = engine(inputs, business_date, cat, keep=True), "full", loans.num_rows
    else:
        outputs, mode, recomputed = engine(inputs, business_date, cat), "full", loans.num_rows
    lap("engine_ms")
    summary = _summary(business_date, outputs)
    summary.amounts["credit_applied_fen"] = credit.applied_fen
    summary.watermark, summary.mode, summary.recomputed = watermark, mode, recomputed
    read = (loans, instalments, settlements) if keeps else None  # what the next date reads only the changes to
    with ThreadPoolExecutor(max_workers=1) as files, unit_of_work(factory) as session:
        # The files (snapshot, kept rows and inputs) are written while the database takes the results, and are
        # complete before anything reads them and before the commit that makes the date count.
        written_files = files.submit(store.write_run, business_date, outputs, read, keep=done[-1] if done else None)
        written = write_results(session, business_date, outputs, started_at=started,
                                summary={k: v for k, v in summary.__dict__.items() if k != "business_date"})
        written_files.result()
        _pause("after_snapshot")
        # Cases follow the day's transitions in the same transaction: all of the run lands, or none of it.
        summary.cases = sync_cases_after_eod(session, business_date)
        summary.agreements = agreements_after_eod(session, business_date, cipher=cipher)  # before the strategy
        summary.strategy = run_strategy(session, business_date, cipher=cipher)  # acts on the day's open cases
        summary.strategy |= run_pre_delinquency(session, business_date, cipher=cipher)  # current loans at risk
        aggregate_day(session, store, business_date)  # the dashboards' daily aggregates (reports/aggregate.py)
        _pause("before_commit")
    summary.penalty_changes, summary.penalty_delta_fen = written["penalty_changes"], written["penalty_delta_fen"]
    lap("write_ms")
    summary.milliseconds = ms
    return summary


def dates_to_run(factory: sessionmaker[Session], through: date) -> list[date]:
    """Every date after the last completed one up to ``through`` (just ``through`` on a first run)."""
    with unit_of_work(factory) as session:
        done = completed_dates(session)
    if not done or done[-1] >= through:
        return [through]
    return [done[-1] + timedelta(days=n) for n in range(1, (through - done[-1]).days + 1)]


def _count(table, column: str) -> dict[str, int]:
    counts = pc.value_counts(table.column(column)).to_pylist() if table.num_rows else []
    return {str(c["values"]): int(c["counts"]) for c in sorted(counts, key=lambda c: str(c["values"]))}


def _summary(business_date: date, outputs: EngineOutputs) -> RunSummary:
    snap = outputs.snapshot

    def total(column: str) -> int:
        return int(pc.sum(snap.column(column)).as_py() or 0) if snap.num_rows else 0

    return RunSummary(
        business_date=business_date, loans=snap.num_rows,
        rejected=outputs.rejected.slice(0, 100).to_pylist(),
        buckets=_count(snap, "bucket"), classes=_count(snap, "classification"),
        transitions=_count(outputs.transitions, "kind"),
        amounts={c: total(c) for c in ("total_outstanding_fen", "overdue_principal_fen", "overdue_interest_fen",
                                        "overdue_penalty_fen", "penalty_due_fen")},
    )
