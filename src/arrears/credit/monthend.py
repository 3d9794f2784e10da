"""Month-end credit reporting: reads the book in bulk, builds the records set-based (``records.py``), holds
back negative records until the borrower was told (征信业管理条例 Art. 15), writes the file and records the run.
One transaction (the caller's); the file is written atomically before the caller commits."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.credit.fileformat import write_file
from arrears.credit.notices import queue_negative_notices
from arrears.credit.policy import CreditPolicy, credit_policy
from arrears.credit.records import (CLOSURES_SCHEMA, CORRECTIONS_SCHEMA, DISPUTED_SCHEMA, EVENTS_SCHEMA,
                                    LOANS_SCHEMA, Inputs, build_records)
from arrears.credit.status import window
from arrears.credit.tables import CreditReportRun
from arrears.db.base import utcnow
from arrears.db.bulk import update_from_arrow
from arrears.delinquency.io import _read
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import completed_dates
from arrears.errors import InvalidInput
from arrears.privacy import PersonalDataCipher

RULE_NOTICE = "credit.notice_before_negative"

LOANS_SQL = """SELECT l.id AS loan_id, l.loan_no, l.borrower_id, b.borrower_no, l.product_code, l.principal_fen,
                      l.disbursed_on, l.first_due_on, l.restructured_on
               FROM loans l JOIN borrowers b ON b.id = l.borrower_id WHERE l.disbursed_on < :next ORDER BY l.id"""
CLOSURES_SQL = """SELECT loan_id, exit_on AS closed_on, kind AS state,
                         CASE WHEN kind = 'written_off' THEN amount_fen - recovered_fen ELSE 0 END AS balance_fen,
                         classification, last_recovery_on FROM loan_exits WHERE exit_on < :next"""
CORRECTIONS_SQL = ("SELECT loan_id, month, code, CASE WHEN reported_month IS NULL THEN 1 ELSE 0 END AS pending "
                   "FROM credit_corrections")
EVENTS_SQL = """SELECT loan_id, kind, occurred_on, amount_fen, months_changed, detail FROM credit_special_events
                WHERE occurred_on >= :start AND occurred_on < :next"""
DISPUTED_SQL = "SELECT DISTINCT loan_id FROM credit_objections WHERE status = 'open'"


# SQLite hands booleans back as 0/1: read the flag as an integer and cast.
_PENDING_AS_INT = pa.schema([f if f.name != "pending" else pa.field("pending", pa.int8()) for f in CORRECTIONS_SCHEMA])


@dataclass
class MonthEndResult:
    month: date
    path: Path
    sha256: str
    accounts: int
    specials: int
    withheld: list[dict] = field(default_factory=list)  # {account_no, rule, report_after}
    notices_queued: int = 0


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def snapshot_files(session: Session, store: SnapshotStore, report_month: date) -> dict[date, Path]:
    """Each month of the window → the snapshot of its last completed end-of-day run."""
    months = set(window(report_month))
    last: dict[date, date] = {}
    for d in completed_dates(session):
        m = d.replace(day=1)
        if m in months:
            last[m] = max(last.get(m, d), d)
    return {m: store.path(d) for m, d in last.items() if store.path(d).exists()}


def read_inputs(session: Session, store: SnapshotStore, month: date) -> Inputs:
    first, last = month_bounds(month)
    nxt = last + timedelta(days=1)
    return Inputs(
        loans=_read(session, LOANS_SQL, LOANS_SCHEMA, {"next": nxt}),
        closures=_read(session, CLOSURES_SQL, CLOSURES_SCHEMA, {"next": nxt}),
        corrections=_read(session, CORRECTIONS_SQL, _PENDING_AS_INT).cast(CORRECTIONS_SCHEMA),
        events=_read(session, EVENTS_SQL, EVENTS_SCHEMA, {"start": first, "next": nxt}),
        disputed=_read(session, DISPUTED_SQL, DISPUTED_SCHEMA),
        snapshot_files=snapshot_files(session, store, month))


def _notice_state(session: Session) -> pa.Table:
    pg = session.connection().dialect.name == "postgresql"
    sent_on = "CAST(o.sent_at AS DATE)" if pg else "substr(o.sent_at, 1, 10)"  # SQLite keeps UTC text
    return _read(session, f"""SELECT n.borrower_id, n.first_reported_month, o.status AS outbox_status,
                                    {sent_on} AS sent_on
                             FROM credit_negative_notices n LEFT JOIN outbox_messages o ON o.id = n.outbox_id""",
                 pa.schema([("borrower_id", pa.int64()), ("first_reported_month", pa.date32()),
                            ("outbox_status", pa.string()), ("sent_on", pa.date32())]))


def month_end(session: Session, *, month: date, store: SnapshotStore, out_dir: Path, today: date,
              cipher: PersonalDataCipher, actor: str, policy: CreditPolicy | None = None,
              now: datetime | None = None) -> MonthEndResult:
    policy = policy or credit_policy()
    first, last = month_bounds(month)
    if last >= today:
        raise InvalidInput(f"month {first:%Y-%m} has not ended (today is {today})", field="month",
                           rule="credit.month_complete")
    inputs = read_inputs(session, store, first)
    if first not in inputs.snapshot_files:
        raise InvalidInput(f"no completed end-of-day run in {first:%Y-%m}; run `arrears eod` first",
                           field="month", rule="credit.month_has_eod")
    records = build_records(policy, first, inputs)
    accounts, specials, withheld, queued = _hold_negative(session, policy, records.accounts, records.specials,
                                                          first, today, cipher, actor)
    path = Path(out_dir) / f"credit-{first:%Y-%m}.jsonl"
    digest = write_file(path, policy, first, accounts, specials, now or utcnow())
    _after_report(session, accounts, first, policy)
    run = session.get(CreditReportRun, first) or CreditReportRun(month=first)
    run.file_name, run.sha256, run.accounts, run.specials = path.name, digest, accounts.num_rows, specials.num_rows
    run.withheld, run.notices_queued, run.run_on, run.actor, run.created_at = (
        len(withheld), queued, today, actor, utcnow())
    session.add(run)
    session.flush()
    append_event(session, actor=actor, action="credit.month_end", subject_type="credit_report",
                 subject_id=f"{first:%Y-%m}", after={"file": path.name, "sha256": digest,
                                                      "accounts": accounts.num_rows, "specials": specials.num_rows,
                                                      "withheld": len(withheld), "notices_queued": queued})
    return MonthEndResult(first, path, digest, accounts.num_rows, specials.num_rows, withheld, queued)


def _hold_negative(session: Session, policy: CreditPolicy, accounts: pa.Table, specials: pa.Table, month: date,
                   today: date, cipher: PersonalDataCipher, actor: str):  # noqa: ANN202
    """Splits off negative records of borrowers not yet told (or told less than wait_days ago) and queues
    the notice for those never told. Set-based in DuckDB; only the notices themselves are queued one by one."""
    wait = policy.negative_notice.wait_days
    con = duckdb.connect()
    con.register("a", accounts)
    con.register("s", specials)
    con.register("n", _notice_state(session))
    codes = ", ".join("'" + c + "'" for c in policy.negative_codes.codes)
    # A borrower may be reported negative once a notice was sent ≥ wait days ago, or once already reported.
    con.execute(f"""CREATE TABLE held AS
        SELECT a.loan_id, a.borrower_id, a.account_no, a.overdue_fen, a.dpd,
               n.borrower_id IS NULL AS needs_notice, n.sent_on
        FROM a LEFT JOIN n USING (borrower_id)
        WHERE a.current_code IN ({codes})
          AND n.first_reported_month IS NULL
          AND NOT coalesce(n.outbox_status = 'sent' AND n.sent_on + INTERVAL {wait} DAY <= DATE '{today}', FALSE)""")
    kept_a = con.sql("SELECT * FROM a ANTI JOIN held USING (loan_id)").to_arrow_table()
    kept_s = con.sql("SELECT * FROM s ANTI JOIN held USING (loan_id)").to_arrow_table()
    to_notify = con.sql("SELECT borrower_id, arg_max(loan_id, dpd) AS loan_id, max(dpd) AS dpd, "
                        "sum(overdue_fen) AS overdue_fen FROM held WHERE needs_notice GROUP BY borrower_id "
                        "ORDER BY borrower_id").to_arrow_table()
    held = con.sql("SELECT account_no, sent_on FROM held ORDER BY account_no").fetchall()
    con.close()
    queued = queue_negative_notices(session, to_notify, today=today, cipher=cipher, actor=actor, policy=policy)
    withheld = [{"account_no": no, "rule": RULE_NOTICE,
                 "report_after": (sent_on or today) + timedelta(days=wait)} for no, sent_on in held]
    return kept_a, kept_s, withheld, queued


def _after_report(session: Session, accounts: pa.Table, month: date, policy: CreditPolicy) -> None:
    """Marks borrowers' first negative month and corrections carried by this file (set-based)."""
    con = duckdb.connect()
    con.register("a", accounts)
    codes = ", ".join("'" + c + "'" for c in policy.negative_codes.codes)
    negative = con.sql(f"SELECT DISTINCT borrower_id, DATE '{month}' AS first_reported_month FROM a "
                       f"WHERE current_code IN ({codes})").to_arrow_table()
    corrected = con.sql(f"SELECT DISTINCT loan_id, DATE '{month}' AS reported_month FROM a WHERE correction").to_arrow_table()
    con.close()
    update_from_arrow(session, "credit_negative_notices", negative, key="borrower_id",
                      where="AND credit_negative_notices.first_reported_month IS NULL")
    update_from_arrow(session, "credit_corrections", corrected, key="loan_id",
                      where="AND credit_corrections.reported_month IS NULL")
    session.expire_all()


def ensure_may_report_negative(session: Session, borrower_id: int, today: date,
                               policy: CreditPolicy | None = None) -> None:
    """Refuses (rule credit.notice_before_negative) a negative record for a borrower not told ≥ wait days ago."""
    policy = policy or credit_policy()
    row = session.execute(text("""SELECT n.first_reported_month, o.status, o.sent_at FROM credit_negative_notices n
                                  LEFT JOIN outbox_messages o ON o.id = n.outbox_id WHERE n.borrower_id = :b"""),
                          {"b": borrower_id}).first()
    wait = policy.negative_notice.wait_days
    if row is not None and row[0] is not None:
        return
    if row is None or row[1] != "sent" or row[2] is None:
        raise InvalidInput(f"borrower {borrower_id} has not been sent the notice before negative reporting "
                           f"({policy.negative_notice.source})", field="borrower_id", rule=RULE_NOTICE)
    sent_on = (row[2] if isinstance(row[2], datetime) else datetime.fromisoformat(str(row[2]))).date()
    if sent_on + timedelta(days=wait) > today:
        raise InvalidInput(f"the notice was sent on {sent_on}; negative records may be reported from "
                           f"{sent_on + timedelta(days=wait)} ({wait} days, {policy.negative_notice.source})",
                           field="borrower_id", rule=RULE_NOTICE)
