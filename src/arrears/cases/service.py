"""Case use cases. ``sync_cases_after_eod`` opens and closes cases set-based from a date's
delinquency transitions; ``move_stage``, ``close_case`` and ``assign`` change one case under its version.
Every function takes the caller's session and never commits; every change appends a ``case`` event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import Date, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.bulk import append_events, sql_str
from arrears.audit.service import append_event
from arrears.auth.tables import User
from arrears.cases.model import can_move, lifecycle
from arrears.cases.tables import Case
from arrears.db.base import UTCDateTime, utcnow
from arrears.db.bulk import execute_typed, temp_table
from arrears.db.versioned import load_versioned
from arrears.errors import Conflict, InvalidInput, NotFound

SUBJECT = "case"
SYSTEM_ACTOR = "eod"


# ---- after end of day (set-based) ----

def sync_cases_after_eod(session: Session, business_date: date, *, actor: str = SYSTEM_ACTOR) -> dict:
    """Closes open cases of loans cured (→ ``cured``) or fully paid (→ ``paid``) on ``business_date``, opens a
    case for each loan that became overdue that date without one, then resolves the promises to pay due for it
    (``promises.resolve_promises``). Idempotent per date."""
    d, reason = business_date, f"end of day {business_date.isoformat()}"
    dates = {"d": Date()}
    temp_table(session, "case_sync_close", "id BIGINT PRIMARY KEY, borrower_id BIGINT, stage VARCHAR(20), "
                                           "reason VARCHAR(30)")
    # A loan cured and fully paid the same day closes as paid. Cases opened after the date are left alone.
    execute_typed(session, """
        INSERT INTO case_sync_close (id, borrower_id, stage, reason)
        SELECT c.id, c.borrower_id, c.stage,
               CASE WHEN EXISTS (SELECT 1 FROM delinquency_transitions t WHERE t.business_date = :d
                                 AND t.loan_id = c.loan_id AND t.kind = 'fully_paid') THEN 'paid' ELSE 'cured' END
        FROM cases c
        WHERE c.status = 'open' AND c.opened_on <= :d
          AND EXISTS (SELECT 1 FROM delinquency_transitions t WHERE t.business_date = :d
                      AND t.loan_id = c.loan_id AND t.kind IN ('cured', 'fully_paid'))""", {"d": d}, dates)
    execute_typed(session, """
        UPDATE cases SET status = 'closed', closed_on = :d, next_action = '', next_action_due = NULL,
               close_reason = (SELECT s.reason FROM case_sync_close s WHERE s.id = cases.id),
               version = version + 1
        WHERE id IN (SELECT id FROM case_sync_close)""", {"d": d}, dates)
    closed = append_events(session, subject=SUBJECT, table="case_sync_close",
                           cols="s.id, s.borrower_id, s.stage, s.reason", action="case.closed", actor=actor,
                           reason=reason, before="""'{"stage":"' || stage || '","status":"open"}'""",
                           after=f"""'{{"close_reason":"' || reason || '","closed_on":"{d.isoformat()}","""
                                 """"status":"closed"}'""")

    first = lifecycle().stage(lifecycle().initial)
    due = d + timedelta(days=first.next_action_days)
    temp_table(session, "case_sync_open", "loan_id BIGINT PRIMARY KEY, borrower_id BIGINT")
    # Skips loans with an open case, or with a case opened that date (closed by hand since): idempotent.
    execute_typed(session, """
        INSERT INTO case_sync_open (loan_id, borrower_id)
        SELECT DISTINCT t.loan_id, t.borrower_id FROM delinquency_transitions t
        WHERE t.business_date = :d AND t.kind = 'became_overdue'
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.loan_id = t.loan_id
                          AND (c.status = 'open' OR c.opened_on = :d))
          -- an agreement in force governs the loan (grace, breach: docs/agreements.md); a breach re-opens its case
          AND NOT EXISTS (SELECT 1 FROM agreements a WHERE a.loan_id = t.loan_id AND a.status = 'countersigned')""",
          {"d": d}, dates)
    execute_typed(session, """
        INSERT INTO cases (loan_id, borrower_id, stage, status, opened_on, next_action, next_action_due,
                           version, created_at)
        SELECT loan_id, borrower_id, :stage, 'open', :d, :action, :due, 1, :now FROM case_sync_open""",
                  {"d": d, "stage": first.code, "action": first.next_action, "due": due, "now": utcnow()},
                  {"d": Date(), "due": Date(), "now": UTCDateTime()})
    temp_table(session, "case_sync_opened", "id BIGINT PRIMARY KEY, loan_id BIGINT, borrower_id BIGINT")
    execute_typed(session, """
        INSERT INTO case_sync_opened (id, loan_id, borrower_id)
        SELECT c.id, c.loan_id, c.borrower_id FROM cases c JOIN case_sync_open s ON s.loan_id = c.loan_id
        WHERE c.status = 'open' AND c.opened_on = :d""", {"d": d}, dates)
    opened = append_events(session, subject=SUBJECT, table="case_sync_opened",
                           cols="s.id, s.loan_id, s.borrower_id", action="case.opened", actor=actor, reason=reason,
                           after=("""'{"borrower_id":' || borrower_id::VARCHAR || ',"loan_id":' """
                                  """|| loan_id::VARCHAR || ',"next_action":'"""
                                  f""" || {sql_str(json.dumps(first.next_action, ensure_ascii=False))} """
                                  f"""|| ',"next_action_due":"{due}","stage":"{first.code}","status":"open"}}'"""))
    for name in ("case_sync_close", "case_sync_open", "case_sync_opened"):
        session.execute(text(f"DROP TABLE {name}"))
    reasons = closed.column("reason").to_pylist() if closed.num_rows else []
    from arrears.cases.promises import resolve_promises  # promises import this module

    return {"opened": opened.num_rows, "closed_cured": reasons.count("cured"), "closed_paid": reasons.count("paid"),
            **resolve_promises(session, d, actor=actor)}


# ---- one case at a time ----

def move_stage(session: Session, *, case_id: int, to_stage: str, actor: str, reason: str,
               expected_version: int, today: date | None = None) -> Case:
    """Moves an open case to ``to_stage`` if lifecycle.yaml allows it; sets the stage's next action, due
    ``today`` (default: the business date) plus the stage's days."""
    lc = lifecycle()
    case = _open_case(session, case_id, expected_version)
    if not reason.strip():
        raise InvalidInput("say why the case moves", field="reason", rule="case.reason_required")
    if to_stage not in lc.stage_codes:
        raise InvalidInput(f"unknown stage {to_stage!r}; stages: {', '.join(lc.stage_codes)}",
                           field="to_stage", rule="case.stage_known")
    if not can_move(case.stage, to_stage, lc):
        allowed = ", ".join(lc.targets(case.stage)) or "none"
        raise InvalidInput(f"lifecycle.yaml transitions do not allow {case.stage} → {to_stage} "
                           f"(allowed from {case.stage}: {allowed})", field="to_stage", rule="case.transition")
    if today is None:
        from arrears.settings import business_date
        today = business_date()
    stage = lc.stage(to_stage)
    before = {"stage": case.stage, "next_action": case.next_action, "next_action_due": case.next_action_due}
    case.stage, case.next_action = stage.code, stage.next_action
    case.next_action_due = today + timedelta(days=stage.next_action_days)
    _flush(session, case)
    append_event(session, actor=actor, action="case.stage_moved", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=case.borrower_id, before=before, reason=reason,
                 after={"stage": case.stage, "next_action": case.next_action,
                        "next_action_due": case.next_action_due})
    return case


def close_case(session: Session, *, case_id: int, close_reason: str, actor: str, expected_version: int,
               today: date, reason: str = "") -> Case:
    """Closes an open case with one of lifecycle.yaml's close reasons, as of ``today``."""
    lc = lifecycle()
    case = _open_case(session, case_id, expected_version)
    if close_reason not in lc.close_codes:
        raise InvalidInput(f"unknown close reason {close_reason!r}; lifecycle.yaml close_reasons: "
                           f"{', '.join(lc.close_codes)}", field="close_reason", rule="case.close_reason")
    before = {"stage": case.stage, "status": case.status}
    case.status, case.close_reason, case.closed_on = "closed", close_reason, today
    case.next_action, case.next_action_due = "", None
    _flush(session, case)
    append_event(session, actor=actor, action="case.closed", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=case.borrower_id, before=before, reason=reason,
                 after={"close_reason": close_reason, "closed_on": today, "status": "closed"})
    return case


def assign(session: Session, *, case_id: int, owner_user_id: int | None, team: str | None, actor: str,
           expected_version: int) -> Case:
    """Gives an open case to a user and/or a team (None clears)."""
    case = _open_case(session, case_id, expected_version)
    if owner_user_id is not None and session.get(User, owner_user_id) is None:
        raise NotFound(f"no user {owner_user_id}", field="owner_user_id", rule="user.exists")
    before = {"owner_user_id": case.owner_user_id, "team": case.team}
    case.owner_user_id, case.team = owner_user_id, team
    _flush(session, case)
    append_event(session, actor=actor, action="case.assigned", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=case.borrower_id, before=before, after={"owner_user_id": owner_user_id, "team": team})
    return case


def _open_case(session: Session, case_id: int, expected_version: int) -> Case:
    case = load_versioned(session, Case, case_id, expected_version, "case")
    if case.status != "open":
        raise Conflict(f"case {case_id} is {case.status}", field="case_id", rule="case.open")
    return case


def _flush(session: Session, case: Case) -> None:
    case_id = case.id
    with _stale_is_conflict(case_id):
        session.flush()


@contextmanager
def _stale_is_conflict(case_id: int) -> Iterator[None]:
    try:
        yield
    except StaleDataError:
        raise Conflict(f"case {case_id} was changed by someone else; reload and try again",
                       field="expected_version", rule="case.version") from None
