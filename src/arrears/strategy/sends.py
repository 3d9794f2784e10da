"""Messages the rules decide to send. ``decide`` asks the compliance guard for all of them at once
(``check_many``; planned for ``send_at_local`` the next day in the borrower's zone): refusals go to
``contact_log`` (allowed = false, the rule's name) and are not sent; allowed ones are staged in
``strategy_sends``. ``deliver`` renders staged ones into the outbox (``queue_message``: templates, content
rules, encryption, dedupe key) — one message at a time, as rendering and encryption are per message."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.orm import Session

from arrears.compliance.bulk import check_many
from arrears.compliance.model import zone
from arrears.compliance.policy import packaged_profiles
from arrears.contact.outbox import queue_message
from arrears.contact.templates import catalog as template_catalog
from arrears.db.base import UTCDateTime
from arrears.db.bulk import insert_arrow
from arrears.errors import Problem
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog
from arrears.strategy.apply import stored_at
from arrears.strategy.config import StrategyFile
from arrears.strategy.tables import StrategySend

UTC_US = pa.timestamp("us", tz="UTC")
HISTORY_DAYS = 31  # longer than any cap window in the packaged profiles


def _stored(session: Session, column: pa.ChunkedArray) -> pa.Array:
    """UTC timestamps as the text SQLAlchemy stores (see apply.stored_at)."""
    suffix = "+00:00" if session.connection().dialect.name == "postgresql" else ""
    return pc.binary_join_element_wise(pc.strftime(column.cast(UTC_US), format="%Y-%m-%d %H:%M:%S"), suffix, "")


def plan_requests(con: duckdb.DuckDBPyConnection, config: StrategyFile, d: date, sends: pa.Table, *,
                  order: str, offset: int = 0, extra: str = "") -> pa.Table:
    """Guard requests for ``sends`` (registered as ``sends``): planned for ``send_at_local`` the next day in the
    borrower's zone, the n-th message of the run to one borrower ``offset`` + n seconds later, so that the
    guard counts the run's earlier allowed ones (caps per day and method count every channel use); the
    compliance profile from the product, the purpose from the template. ``order``: the columns ordering one
    borrower's messages and the result; ``extra``: more select items."""
    hh, mm = (int(x) for x in config.send_at_local.split(":"))
    zones = pc.unique(sends.column("borrower_tz")).to_pylist()  # a loop over time zones, not cases
    con.register("zones", pa.table({"borrower_tz": pa.array(zones, pa.string()), "at": pa.array(
        [datetime.combine(d + timedelta(days=1), time(hh, mm), tzinfo=zone(z)).astimezone(UTC) for z in zones],
        UTC_US)}))
    products = catalog().products
    con.register("profiles", pa.table({"product_code": pa.array(list(products), pa.string()),
                                       "profile": pa.array([p.compliance_profile for p in products.values()])}))
    specs = template_catalog().specs
    con.register("purposes", pa.table({"template": pa.array(list(specs), pa.string()),
                                       "purpose": pa.array([str(s.purpose) for s in specs.values()])}))
    con.register("sends", sends)
    requests = con.sql(f"""
        SELECT s.*, z.at + INTERVAL 1 SECOND * (rank + {offset}) AS at, p.profile, u.purpose, s.channel AS method,
               'debtor' AS party{extra}
        FROM (SELECT *, row_number() OVER (PARTITION BY borrower_id ORDER BY {order}) - 1 AS rank FROM sends) s
        JOIN zones z USING (borrower_tz) JOIN profiles p USING (product_code)
        JOIN purposes u USING (template) ORDER BY {order}""").to_arrow_table()
    return requests.set_column(requests.schema.get_field_index("at"), "at", requests.column("at").cast(UTC_US))


def decide(session: Session, con: duckdb.DuckDBPyConnection, config: StrategyFile, d: date,
           now: datetime) -> tuple[int, int]:
    sends = con.sql("""
        SELECT f.case_id, f.loan_id, f.borrower_id, f.product_code, f.timezone AS borrower_tz, f.open_complaint,
               r.rule, a.action_no, a.channel, a.template, a.variables
        FROM decided x JOIN actions a USING (rule_no) JOIN facts f USING (case_id) JOIN rules r USING (rule_no)
        WHERE a.do IN ('send', 'lawyer_letter') ORDER BY f.case_id, a.action_no""").to_arrow_table()
    if sends.num_rows == 0:
        return 0, 0
    requests = plan_requests(con, config, d, sends, order="case_id, action_no")
    flags = con.sql("SELECT DISTINCT borrower_id, open_complaint FROM sends").to_arrow_table()
    since = datetime.combine(d - timedelta(days=HISTORY_DAYS), time(0), tzinfo=UTC)
    decisions = _check_by_rank(requests, _history(session, since, requests.column("borrower_id")), flags)
    allowed = decisions.column("allowed")
    at_text = _stored(session, requests.column("at"))
    refused = pc.invert(allowed)
    created = stored_at(session, now)
    log = pa.table({
        "case_id": requests.column("case_id"), "borrower_id": requests.column("borrower_id"),
        "loan_id": requests.column("loan_id"), "at": at_text, "method": requests.column("method"),
        "party": requests.column("party"), "purpose": requests.column("purpose"),
        "allowed": allowed, "refused_rule": decisions.column("rule"),
        "created_at": pa.array([created] * requests.num_rows, pa.string())}).filter(refused)
    insert_arrow(session, "contact_log", log)
    key = pc.binary_join_element_wise("strategy", requests.column("case_id").cast(pa.string()), d.isoformat(),
                                      requests.column("action_no").cast(pa.string()), ":")
    staged = pa.table({
        "case_id": requests.column("case_id"), "loan_id": requests.column("loan_id"),
        "borrower_id": requests.column("borrower_id"),
        "business_date": pa.array([d] * requests.num_rows, pa.date32()), "rule": requests.column("rule"),
        "action_no": requests.column("action_no"), "channel": requests.column("channel"),
        "template": requests.column("template"), "variables": requests.column("variables"),
        "profile": requests.column("profile"), "not_before": at_text, "dedupe_key": key,
        "status": pa.array(["staged"] * requests.num_rows, pa.string()),
        "created_at": pa.array([created] * requests.num_rows, pa.string())}).filter(allowed)
    insert_arrow(session, "strategy_sends", staged)
    return staged.num_rows, log.num_rows


def _check_by_rank(requests: pa.Table, history: pa.Table, flags: pa.Table) -> pa.Table:
    """``check_many`` rank by rank (a loop over the most messages one borrower gets in a run, not over cases):
    the messages allowed at lower ranks join the history as sent attempts. Decisions in the requests' order."""
    profiles = packaged_profiles()
    ranks = requests.column("rank")
    requests = requests.append_column("request_id", pa.array(range(requests.num_rows), pa.int64()))
    parts = []
    for r in range(int(pc.max(ranks).as_py()) + 1):
        batch = requests.filter(pc.equal(ranks, r))
        decided = check_many(batch, history, flags, profiles)
        parts.append(decided)
        sent = batch.filter(decided.column("allowed"))
        history = pa.concat_tables([history, pa.table({
            "borrower_id": sent.column("borrower_id"), "loan_id": sent.column("loan_id"),
            "method": sent.column("method"), "party": sent.column("party"),
            "outcome": pa.array(["sent"] * sent.num_rows, pa.string()), "at": sent.column("at")})])
    decisions = pa.concat_tables(parts)
    return decisions.take(pc.sort_indices(decisions.column("request_id")))


def _history(session: Session, since: datetime, borrowers: pa.ChunkedArray) -> pa.Table:
    """Earlier attempts (contact log outcomes, messages sent) of the window any cap can look back on."""
    stmt = text("""
        SELECT borrower_id, loan_id, method, party, outcome, at FROM contact_log
        WHERE outcome IS NOT NULL AND at >= :since
        UNION ALL
        SELECT borrower_id, loan_id, channel, 'debtor', 'sent', sent_at FROM outbox_messages
        WHERE status = 'sent' AND loan_id IS NOT NULL AND sent_at >= :since""").bindparams(
        bindparam("since", type_=UTCDateTime())).columns(at=UTCDateTime())
    rows = session.execute(stmt, {"since": since}).fetchall()
    table = pa.table({
        "borrower_id": pa.array([r[0] for r in rows], pa.int64()), "loan_id": pa.array([r[1] for r in rows], pa.int64()),
        "method": pa.array([r[2] for r in rows], pa.string()), "party": pa.array([r[3] for r in rows], pa.string()),
        "outcome": pa.array([r[4] for r in rows], pa.string()), "at": pa.array([r[5] for r in rows], UTC_US)})
    return table.filter(pc.is_in(table.column("borrower_id"), value_set=pc.unique(borrowers)))


VARIABLES_SQL = """
    SELECT d.loan_id, l.loan_no, d.dpd, d.total_outstanding_fen, d.overdue_penalty_fen,
           d.overdue_principal_fen + d.overdue_interest_fen + d.overdue_fee_fen + d.overdue_penalty_fen AS owed
    FROM loan_delinquency d JOIN loans l ON l.id = d.loan_id
    WHERE d.loan_id IN (SELECT loan_id FROM strategy_sends WHERE status = 'staged' {where})"""


def deliver(session: Session, cipher: PersonalDataCipher, *, business_date: date | None = None,
            now: datetime | None = None) -> int:
    """Renders and queues every staged message (of ``business_date`` if given); returns how many were queued.
    A message that cannot be rendered or addressed is marked failed with the rule it broke."""
    where = "AND business_date = :d" if business_date else ""
    stmt = text(VARIABLES_SQL.format(where=where))
    if business_date:
        stmt = stmt.bindparams(bindparam("d", type_=Date()))
    facts = {r[0]: r for r in session.execute(stmt, {"d": business_date} if business_date else {})}
    query = select(StrategySend).where(StrategySend.status == "staged").order_by(StrategySend.id)
    if business_date:
        query = query.where(StrategySend.business_date == business_date)
    queued = 0
    for send in session.scalars(query).all():  # one message each: Jinja rendering and AES-GCM are per message
        row = facts.get(send.loan_id)
        borrower = session.get(Borrower, send.borrower_id)
        if row is None or borrower is None:
            send.status, send.error = "failed", "strategy.no_state"
            continue
        values = {"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": row[1],
                  "due_on": send.business_date - timedelta(days=row[2]), "days_overdue": row[2],
                  "amount_owed_fen": row[5], "total_outstanding_fen": row[3], "penalty_fen": row[4]}
        spec = template_catalog().spec(send.template)
        mapping = json.loads(send.variables)
        variables = {var: values[mapping.get(var, var)] for var in spec.variables}
        try:
            message = queue_message(session, cipher=cipher, borrower_id=send.borrower_id, channel=send.channel,
                                    template=send.template, variables=variables, dedupe_key=send.dedupe_key,
                                    loan_id=send.loan_id, case_id=send.case_id, profile=send.profile,
                                    not_before=send.not_before, actor="strategy", now=now)
        except Problem as problem:
            send.status, send.error = "failed", (getattr(problem, "rule", None) or "strategy.render")[:200]
            continue
        send.status, send.outbox_id = "queued", message.id
        queued += 1
    session.flush()
    return queued
