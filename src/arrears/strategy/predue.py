"""Reminders before the due date (pre-delinquency), driven by the early-warning score.

After end of day, every current loan (active, not overdue, no open case) with an instalment still to pay due
2 … ``window_days`` days after the business date, and a fresh early-warning score (``scores.service.
latest_scores_sql``, at most ``score_max_age_days`` old), is put through the ``pre_due`` rules of its arm's
strategy (arm by md5 of '<experiment>:loan:<loan id>'; first matching rule; compiled to one DuckDB query like the
case rules). A rule's messages are checked by the compliance guard in bulk (``check_many``, as ``sends.decide``)
and written to ``pre_due_reminders``: refused ones with the guard's rule (tried again on a later day of the
window), allowed ones staged and, with the institution's cipher, rendered into the outbox. The window starts
at 2 days because a message goes out at ``send_at_local`` the NEXT day: an instalment due tomorrow would be
reminded on its due date.

Deduplicated per loan and due date: a loan with a staged/queued/failed reminder for that instalment, or any
decision on the same business date, is not selected again (re-running a date queues nothing new); the outbox
key ``pre_due:<loan>:<due date>:<action>`` guards the last step. Set-based except rendering (per message).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.contact.outbox import queue_message
from arrears.contact.templates import catalog as template_catalog
from arrears.db.base import UTCDateTime, utcnow
from arrears.db.bulk import insert_arrow
from arrears.errors import Problem
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.scores.service import latest_scores_sql
from arrears.strategy.apply import stored_at
from arrears.strategy.compile import arm_bp_sql, arm_case, pre_due_rule_case, quote
from arrears.strategy.config import StrategyFile, strategy
from arrears.strategy.evaluate import conform
from arrears.strategy.sends import HISTORY_DAYS, UTC_US, _check_by_rank, _history, _stored, plan_requests
from arrears.strategy.tables import PreDueReminder

ACTOR = "strategy"
FIRST_DAY = 2  # the earliest due date reminded: business date + 2 (the message goes out the next day)

FACTS = pa.schema([
    ("loan_id", pa.int64()), ("borrower_id", pa.int64()), ("product_code", pa.string()),
    ("instalment_no", pa.int64()), ("due_on", pa.date32()), ("amount_due_fen", pa.int64()),
    ("early_warning", pa.int64()), ("open_complaint", pa.bool_()), ("language", pa.string()),
    ("timezone", pa.string())])
DECISIONS = pa.schema([("loan_id", pa.int64()), ("due_on", pa.date32()), ("days_to_due", pa.int64()),
                       ("arm_bp", pa.int64()), ("strategy", pa.string()), ("rule_no", pa.int64())])

_LEFT = " + ".join(f"i.{c}_due_fen - i.{c}_paid_fen - i.{c}_waived_fen"
                   for c in ("principal", "interest", "penalty", "fee", "cost"))
# Candidates: current loans with an instalment in the window and a fresh early-warning score, not yet decided.
# early_warning in per mille rounded half up via exact micro-units (as strategy.service.FACTS_SQL does).
FACTS_SQL = f"""
    SELECT l.id AS loan_id, l.borrower_id, l.product_code, i.seq AS instalment_no, i.due_on,
           {_LEFT} AS amount_due_fen,
           (CAST(ROUND(rs.early_warning * 1000000) AS BIGINT) + 500) / 1000 AS early_warning,
           CASE WHEN EXISTS (SELECT 1 FROM complaints k WHERE k.borrower_id = l.borrower_id
                             AND k.status IN ('open', 'in_progress')) THEN 1 ELSE 0 END AS open_complaint,
           b.language, b.timezone
    FROM instalments i JOIN loans l ON l.id = i.loan_id JOIN borrowers b ON b.id = l.borrower_id
    JOIN ({latest_scores_sql()}) rs ON rs.loan_id = i.loan_id
    LEFT JOIN loan_delinquency d ON d.loan_id = i.loan_id
    WHERE i.due_on >= :first AND i.due_on <= :last AND l.status = 'active' AND COALESCE(d.dpd, 0) = 0
      AND rs.early_warning IS NOT NULL AND rs.early_warning_on >= :fresh
      AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.loan_id = i.loan_id AND c.status = 'open')
      AND NOT EXISTS (SELECT 1 FROM pre_due_reminders r WHERE r.loan_id = i.loan_id AND r.due_on = i.due_on
                      AND (r.status <> 'refused' OR r.business_date = :d))"""


def pre_due_sql(config: StrategyFile, d: date, facts: str = "facts") -> str:
    """One row per loan in the window (its earliest instalment still to pay): arm, strategy, matching rule."""
    window = config.pre_delinquency.window_days if config.pre_delinquency else 0
    return f"""
        WITH f AS (
            SELECT *, due_on - DATE {quote(d.isoformat())} AS days_to_due,
                   {arm_bp_sql(config.experiment + ':loan', 'loan_id')} AS arm_bp
            FROM {facts}
            WHERE amount_due_fen > 0 AND due_on - DATE {quote(d.isoformat())} BETWEEN {FIRST_DAY} AND {int(window)}
            QUALIFY row_number() OVER (PARTITION BY loan_id ORDER BY due_on, instalment_no) = 1),
        a AS (SELECT *, {arm_case(config)} AS strategy FROM f)
        SELECT loan_id, due_on, days_to_due, arm_bp, strategy, {pre_due_rule_case(config)} AS rule_no FROM a
        ORDER BY loan_id"""


def evaluate_pre_due(facts: pa.Table, config: StrategyFile, d: date) -> pa.Table:
    """Pure: loan facts (``FACTS``) in, one decision per loan in the window out (``DECISIONS``)."""
    con = duckdb.connect()
    try:
        con.register("facts", conform(facts, FACTS))
        return conform(con.sql(pre_due_sql(config, d)).to_arrow_table(), DECISIONS)
    finally:
        con.close()


def _rules(config: StrategyFile) -> tuple[pa.Table, pa.Table]:
    rules = pa.Table.from_pylist(
        [{"rule_no": n, "rule": r.name, "role": s.role} for n, s, r in config.pre_due_rules()],
        schema=pa.schema([("rule_no", pa.int64()), ("rule", pa.string()), ("role", pa.string())]))
    actions = pa.Table.from_pylist(
        [{"rule_no": n, "action_no": k, "channel": a.channel, "template": a.template,
          "variables": json.dumps(a.variables, sort_keys=True)}
         for n, _, r in config.pre_due_rules() for k, a in enumerate(r.actions)],
        schema=pa.schema([("rule_no", pa.int64()), ("action_no", pa.int64()), ("channel", pa.string()),
                          ("template", pa.string()), ("variables", pa.string())]))
    return rules, actions


def run_pre_delinquency(session: Session, business_date: date, *, config: StrategyFile | None = None,
                        cipher: PersonalDataCipher | None = None, now: datetime | None = None) -> dict[str, int]:
    """Decides, checks and stages the date's reminders before the due date; queues them with ``cipher``.
    Takes the caller's session and never commits. Returns counts prefixed ``pre_due_``."""
    from arrears.strategy.service import fetch  # (service imports the queue helpers; avoid a cycle at import)

    config = config or strategy()
    now = now or utcnow()
    summary = {"pre_due_loans": 0, "pre_due_matched": 0, "pre_due_staged": 0, "pre_due_refused": 0,
               "pre_due_queued": 0}
    pre = config.pre_delinquency
    if pre is not None and config.pre_due_rules():
        params = {"d": business_date, "first": business_date + timedelta(days=FIRST_DAY),
                  "last": business_date + timedelta(days=pre.window_days),
                  "fresh": business_date - timedelta(days=pre.score_max_age_days)}
        facts = fetch(session, FACTS_SQL, params, {"due_on": Date()})
        if facts.num_rows:
            facts = conform(facts, FACTS)
            decided = evaluate_pre_due(facts, config, business_date)
            summary["pre_due_loans"] = decided.num_rows
            summary["pre_due_matched"] = decided.num_rows - decided.column("rule_no").null_count
            staged, refused = _decide(session, config, business_date, now, facts, decided)
            summary["pre_due_staged"], summary["pre_due_refused"] = staged, refused
            append_event(session, actor=ACTOR, action="strategy.pre_due", subject_type="strategy_run",
                         subject_id=business_date.isoformat(), occurred_at=now,
                         after={**summary, "experiment": config.experiment, "decisions_sha256": _digest(decided)})
    if cipher is not None:
        summary["pre_due_queued"] = deliver_pre_due(session, cipher, business_date=business_date, now=now)
    return summary


def _decide(session: Session, config: StrategyFile, d: date, now: datetime, facts: pa.Table,
            decided: pa.Table) -> tuple[int, int]:
    con = duckdb.connect()
    try:
        rules, actions = _rules(config)
        for name, table in (("facts", facts), ("decided", decided), ("rules", rules), ("actions", actions)):
            con.register(name, table)
        sends = con.sql("""
            SELECT f.loan_id, f.borrower_id, f.product_code, f.instalment_no, f.due_on, f.amount_due_fen,
                   f.early_warning, f.open_complaint, f.timezone AS borrower_tz, x.strategy, r.role, r.rule,
                   a.action_no, a.channel, a.template, a.variables
            FROM decided x JOIN facts f USING (loan_id, due_on) JOIN rules r USING (rule_no)
            JOIN actions a USING (rule_no) ORDER BY f.loan_id, a.action_no""").to_arrow_table()
        if sends.num_rows == 0:
            return 0, 0
        requests = _requests(con, config, d, sends)
        flags = con.sql("SELECT borrower_id, bool_or(open_complaint) AS open_complaint FROM sends "
                        "GROUP BY borrower_id").to_arrow_table()
    finally:
        con.close()
    since = datetime.combine(d - timedelta(days=HISTORY_DAYS), time(0), tzinfo=UTC)
    history = pa.concat_tables([_history(session, since, requests.column("borrower_id")),
                                _staged_today(session, d, requests.column("borrower_id"))])
    decisions = _check_by_rank(requests, history, flags)
    allowed = decisions.column("allowed")
    n = requests.num_rows
    key = pc.binary_join_element_wise("pre_due", requests.column("loan_id").cast(pa.string()),
                                      requests.column("due_on").cast(pa.string()),
                                      requests.column("action_no").cast(pa.string()), ":")
    rows = pa.table({
        "loan_id": requests.column("loan_id"), "borrower_id": requests.column("borrower_id"),
        "business_date": pa.array([d] * n, pa.date32()), "due_on": requests.column("due_on"),
        "instalment_no": requests.column("instalment_no"), "amount_due_fen": requests.column("amount_due_fen"),
        "early_warning": requests.column("early_warning"),
        "experiment": pa.array([config.experiment] * n, pa.string()), "strategy": requests.column("strategy"),
        "role": requests.column("role"), "rule": requests.column("rule"), "action_no": requests.column("action_no"),
        "channel": requests.column("channel"), "template": requests.column("template"),
        "variables": requests.column("variables"), "profile": requests.column("profile"),
        "not_before": _stored(session, requests.column("at")),
        "status": pc.if_else(allowed, "staged", "refused"),
        "refused_rule": pc.if_else(allowed, pa.scalar(None, pa.string()), decisions.column("rule")),
        "dedupe_key": pc.if_else(allowed, key, pa.scalar(None, pa.string())),
        "created_at": pa.array([stored_at(session, now)] * n, pa.string())})
    insert_arrow(session, "pre_due_reminders", rows)
    staged = pc.sum(allowed.cast(pa.int64())).as_py() or 0
    return staged, n - staged


def _requests(con: duckdb.DuckDBPyConnection, config: StrategyFile, d: date, sends: pa.Table) -> pa.Table:
    """Guard requests (sends.plan_requests). Today's collection messages (strategy_sends) planned at the same
    hour come first: start after them."""
    return plan_requests(con, config, d, sends, order="loan_id, action_no", offset=100,
                         extra=", CAST(0 AS BIGINT) AS case_id")


def _staged_today(session: Session, d: date, borrowers: pa.ChunkedArray) -> pa.Table:
    """Collection messages the strategy allowed for the same date (not sent yet): they count against the caps."""
    stmt = text("SELECT borrower_id, loan_id, channel, not_before FROM strategy_sends "
                "WHERE business_date = :d AND status IN ('staged', 'queued')").bindparams(
        bindparam("d", type_=Date())).columns(not_before=UTCDateTime())
    rows = session.execute(stmt, {"d": d}).fetchall()
    table = pa.table({
        "borrower_id": pa.array([r[0] for r in rows], pa.int64()), "loan_id": pa.array([r[1] for r in rows], pa.int64()),
        "method": pa.array([r[2] for r in rows], pa.string()), "party": pa.array(["debtor"] * len(rows), pa.string()),
        "outcome": pa.array(["sent"] * len(rows), pa.string()), "at": pa.array([r[3] for r in rows], UTC_US)})
    return table.filter(pc.is_in(table.column("borrower_id"), value_set=pc.unique(borrowers)))


def deliver_pre_due(session: Session, cipher: PersonalDataCipher, *, business_date: date | None = None,
                    now: datetime | None = None) -> int:
    """Renders and queues staged reminders (of ``business_date`` if given) — one message at a time, as rendering
    and encryption are per message. One that cannot be rendered is marked failed with the rule it broke."""
    query = select(PreDueReminder, Loan.loan_no).join(Loan, Loan.id == PreDueReminder.loan_id) \
        .where(PreDueReminder.status == "staged").order_by(PreDueReminder.id)
    if business_date:
        query = query.where(PreDueReminder.business_date == business_date)
    queued = 0
    for reminder, loan_no in session.execute(query).all():
        borrower = session.get(Borrower, reminder.borrower_id)
        values = {"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan_no,
                  "instalment_no": reminder.instalment_no, "amount_due_fen": reminder.amount_due_fen,
                  "due_on": reminder.due_on}
        mapping = json.loads(reminder.variables)
        spec = template_catalog().spec(reminder.template)
        try:
            message = queue_message(session, cipher=cipher, borrower_id=reminder.borrower_id,
                                    channel=reminder.channel, template=reminder.template,
                                    variables={v: values[mapping.get(v, v)] for v in spec.variables},
                                    dedupe_key=reminder.dedupe_key, loan_id=reminder.loan_id,
                                    profile=reminder.profile, not_before=reminder.not_before, actor=ACTOR, now=now)
        except Problem as problem:
            reminder.status, reminder.error = "failed", (getattr(problem, "rule", None) or "strategy.render")[:200]
            continue
        reminder.status, reminder.outbox_id = "queued", message.id
        queued += 1
    session.flush()
    return queued


def _digest(decided: pa.Table) -> str:
    h = hashlib.sha256()
    for col in ("loan_id", "strategy", "rule_no"):
        h.update(str(decided.column(col).to_pylist()).encode())
    return h.hexdigest()
