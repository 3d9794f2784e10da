"""Simulated business days on a portfolio: each day (1) borrowers pay — set-based: instalments falling due are
paid on time, late or never by a fixed pseudo-random profile per loan, plus what collectors' promises bring in;
(2) end of day runs (cases open, close as cured/paid, promises resolve); (3) collectors work the open cases
(``demo.collectors``: calls, promises, visits, a complaint, stage moves and closes). Cases thus open, move
through every stage and close for several reasons. Used by ``arrears demo --simulate-days`` and
``arrears simulate``."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arrears.audit.tables import Event
from arrears.calendar import BusinessCalendar
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case, ContactLog, FieldVisit, PromiseToPay
from arrears.complaints.tables import Complaint
from arrears.db.bulk import fetch_arrow
from arrears.db.engine import unit_of_work
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.demo.collectors import Collectors
from arrears.loans.bulk_payments import post_payments_bulk
from arrears.privacy import PersonalDataCipher
from arrears.products.model import COMPONENTS

_OUTSTANDING = " + ".join(f"{c.value}_due_fen - {c.value}_paid_fen - {c.value}_waived_fen" for c in COMPONENTS)
# Payment profile per loan, from (loan_id × a large odd constant + seed) mod 100: on time, late by 3-22 days, or
# never on its own (then only what collectors obtain).
_PROFILE = "(CAST(loan_id AS BIGINT) * 2654435761 + {seed}) % 100"


@dataclass
class SimulationReport:
    days: int = 0
    payments: int = 0
    stages_reached: dict[str, int] = field(default_factory=dict)
    close_reasons: dict[str, int] = field(default_factory=dict)
    open_cases: int = 0
    contacts: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    promises: dict[str, int] = field(default_factory=dict)
    visits: int = 0
    committee_visits: int = 0
    complaints: dict[str, int] = field(default_factory=dict)


def due_payments(session: Session, prev: date, day: date, seed: int) -> pa.Table:
    """What borrowers pay by themselves on ``day``: every instalment whose due date plus the loan's delay falls
    in (prev, day], for the instalment's outstanding amount. One query and one DuckDB statement."""
    inst = fetch_arrow(session, f"""
        SELECT loan_id, due_on, {_OUTSTANDING} AS outstanding FROM instalments
        WHERE due_on > :lo AND due_on <= :day AND {_OUTSTANDING} > 0""", {"lo": prev - timedelta(days=30),
                                                                          "day": day})
    if inst.num_rows == 0:
        return pa.table({"loan_id": pa.array([], pa.int64()), "amount_fen": pa.array([], pa.int64())})
    con = duckdb.connect()
    con.register("inst", inst)
    profile = _PROFILE.format(seed=int(seed))
    out = con.sql(f"""
        WITH p AS (SELECT CAST(loan_id AS BIGINT) AS loan_id, CAST(due_on AS DATE) AS due_on,
                          CAST(outstanding AS BIGINT) AS outstanding, {profile} AS h FROM inst)
        SELECT loan_id, CAST(SUM(outstanding) AS BIGINT) AS amount_fen FROM p
        WHERE h < 75 AND due_on + CAST(CASE WHEN h < 60 THEN 0 ELSE 3 + h % 20 END AS INTEGER)
              BETWEEN DATE '{prev.isoformat()}' + 1 AND DATE '{day.isoformat()}'
        GROUP BY loan_id ORDER BY loan_id""").to_arrow_table()
    con.close()
    return out


def post_day(session: Session, prev: date, day: date, seed: int, extra: list[tuple[int, int]]) -> int:
    """Posts the day's own payments and the collectors' ones (loan_id, amount) in bulk."""
    own = due_payments(session, prev, day, seed)
    loans = own.column("loan_id").to_pylist() + [loan for loan, _ in extra]
    amounts = own.column("amount_fen").to_pylist() + [amount for _, amount in extra]
    if not loans:
        return 0
    keys = [f"sim:{day.isoformat()}:{loan}:{k}" for k, loan in enumerate(loans)]
    table = pa.table({"loan_id": pa.array(loans, pa.int64()), "amount_fen": pa.array(amounts, pa.int64()),
                      "received_on": pa.array([day] * len(loans), pa.date32()), "idempotency_key": keys,
                      "channel": ["bank_transfer"] * len(loans), "external_ref": [None] * len(loans)})
    return post_payments_bulk(session, table).posted


def simulate(factory: sessionmaker[Session], store: SnapshotStore, cipher: PersonalDataCipher, *, start: date,
             days: int, seed: int, calendar: BusinessCalendar, evidence_root: Path,
             step: Callable[[str], None] | None = None) -> SimulationReport:
    """Works ``days`` business days after ``start`` (whose end of day must already have run)."""
    say = step or (lambda _msg: None)
    report = SimulationReport()
    with unit_of_work(factory) as s:
        crew = Collectors(s, cipher, random.Random(seed), evidence_root, calendar)
    day = start
    for n in range(1, days + 1):
        prev, day = day, calendar.add_business_days(day, 1)
        say(f"simulating day {n}/{days}: {day}")
        with unit_of_work(factory) as s:
            report.payments += post_day(s, prev, day, seed, crew.payments_due(day))
        run_date(factory, store, day, today=day, calendar=calendar, cipher=cipher)
        with unit_of_work(factory) as s:
            crew.work(s, day, n)
        report.days = n
    with unit_of_work(factory) as s:
        _fill(s, report)
    return report


def _fill(s: Session, report: SimulationReport) -> None:
    """What happened, read back from the database (not from the simulation's own bookkeeping)."""
    reached = Counter({lifecycle().initial: s.scalar(select(func.count()).select_from(Case)) or 0})
    for after in s.scalars(select(Event.after).where(Event.subject_type == "case", Event.action == "case.stage_moved")):
        reached[after["stage"]] += 1
    report.stages_reached = dict(reached)
    report.close_reasons = dict(s.execute(select(Case.close_reason, func.count()).where(Case.status == "closed")
                                          .group_by(Case.close_reason)).all())
    report.open_cases = s.scalar(select(func.count()).select_from(Case).where(Case.status == "open")) or 0
    report.contacts = s.scalar(select(func.count()).select_from(ContactLog)) or 0
    report.refused = dict(s.execute(select(ContactLog.refused_rule, func.count()).where(ContactLog.allowed.is_(False))
                                    .group_by(ContactLog.refused_rule)).all())
    report.promises = dict(s.execute(select(PromiseToPay.status, func.count()).group_by(PromiseToPay.status)).all())
    report.visits = s.scalar(select(func.count()).select_from(FieldVisit).where(FieldVisit.status == "reported")) or 0
    report.committee_visits = s.scalar(select(func.count()).select_from(FieldVisit)
                                       .where(FieldVisit.committee_involved.is_(True))) or 0
    report.complaints = dict(s.execute(select(Complaint.status, func.count()).group_by(Complaint.status)).all())
