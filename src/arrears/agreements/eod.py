"""After each end of day, set-based: agreements in force that are breached or completed.

- An agreement instalment is *missed* once it is unpaid (principal, interest, fee or cost outstanding) more
  than ``grace_days`` after its due date; paying inside the grace cures it. The agreement is *breached* when
  ``missed_instalments`` are missed at once, or one is unpaid more than ``days_late`` days (policy.yaml).
- Breach ends the agreement, reinstates a conditional waiver (see ``_reinstate_waivers``; a reversal entry
  mirrors the waiver entry; what was paid under the agreement stays paid and counts against the debt), lifts
  the collection stop, and decides what follows: ``renegotiate`` while the loan has had fewer than
  ``max_agreements_per_loan`` agreements, else ``legal``: the loan's open case moves to the ``legal`` stage
  where the lifecycle allows it (from phone or field visit), or the agreement is marked ``legal_pending`` for
  the legal team.
- Completion (nothing outstanding on the loan, penalties included) closes the agreement and the loan; the
  settlement certificate is rendered by ``issue_certificates`` (it needs the cipher for the borrower's name).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from arrears.agreements.policy import policy
from arrears.audit.bulk import append_events
from arrears.cases.model import lifecycle
from arrears.db.base import utcnow
from arrears.db.bulk import execute_typed, temp_table
from arrears.ledger.model import Account, EntryKind
from arrears.negotiation.plan import COMPONENTS

ACTOR = "eod"
_OUT4 = " + ".join(f"i.{c}_due_fen - i.{c}_paid_fen - i.{c}_waived_fen"
                  for c in ("principal", "interest", "fee", "cost"))
_OUT5 = " + ".join(f"i.{c}_due_fen - i.{c}_paid_fen - i.{c}_waived_fen" for c in COMPONENTS)
_PLAN = "i.loan_id = a.loan_id AND i.seq BETWEEN a.seq_from AND a.seq_to"


def agreements_after_eod(session: Session, business_date: date, *, cipher=None) -> dict:  # noqa: ANN001
    """Breaches and completions for ``business_date`` in the end-of-day transaction. Idempotent per date
    (a breached or completed agreement is no longer in force)."""
    pol, d = policy(), business_date
    clause, reneg = pol.default_clause, pol.renegotiation
    temp_table(session, "agr_breach", "id BIGINT PRIMARY KEY, loan_id BIGINT, borrower_id BIGINT, "
                                 "waiver_entry_id BIGINT, reinstate INTEGER, escalation VARCHAR(20)")
    execute_typed(session, f"""
        INSERT INTO agr_breach (id, loan_id, borrower_id, waiver_entry_id, reinstate, escalation)
        SELECT a.id, a.loan_id, a.borrower_id, a.waiver_entry_id,
               CASE WHEN a.waiver_conditional AND a.waiver_entry_id IS NOT NULL THEN 1 ELSE 0 END,
               CASE WHEN a.renegotiation_no + 1 >= :max THEN 'legal' ELSE 'renegotiate' END
        FROM agreements a
        WHERE a.status = 'countersigned' AND a.executed_on <= :d
          AND ((SELECT count(*) FROM instalments i WHERE {_PLAN} AND i.due_on < :grace_cut AND ({_OUT4}) > 0) >= :missed
               OR EXISTS (SELECT 1 FROM instalments i WHERE {_PLAN} AND i.due_on < :late_cut AND ({_OUT4}) > 0))""",
          {"d": d, "grace_cut": d - timedelta(days=clause.grace_days), "late_cut": d - timedelta(days=clause.days_late),
           "missed": clause.missed_instalments, "max": reneg.max_agreements_per_loan})
    reinstated = _reinstate_waivers(session, d)
    reopened = _reopen_cases(session, d)
    moved = _escalate(session, d, reneg.escalate_to_stage)
    execute_typed(session, """
        UPDATE agreements SET status = 'breached', ended_on = :d, stops_collection = :f, version = version + 1,
               end_reason = 'default clause: missed instalments',
               escalation = (SELECT b.escalation FROM agr_breach b WHERE b.id = agreements.id)
        WHERE id IN (SELECT id FROM agr_breach)""", {"d": d, "f": False})
    append_events(session, subject="agreement", table="agr_breach", action="agreement.breached", actor=ACTOR,
                  reason=f"end of day {d.isoformat()}",
                  cols="s.id, s.borrower_id, s.escalation, s.reinstate",
                  before="""'{"status":"countersigned"}'""",
                  after=f"""'{{"ended_on":"{d.isoformat()}","escalation":"' || escalation || '","reinstated_waiver":'
                            || CASE WHEN reinstate = 1 THEN 'true' ELSE 'false' END || ',"status":"breached"}}'""")
    counts = session.execute(text("SELECT count(*), coalesce(sum(CASE WHEN escalation = 'legal' THEN 1 ELSE 0 END), 0), "
                                  "coalesce(sum(CASE WHEN escalation = 'legal_pending' THEN 1 ELSE 0 END), 0) "
                                  "FROM agr_breach")).one()
    completed = _complete(session, d)
    for name in ("agr_breach", "agr_case_reopen", "agr_case_move", "agr_done"):
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))
    out = {"breached": int(counts[0]), "escalated_legal": int(counts[1]), "legal_pending": int(counts[2]),
           "waivers_reinstated": reinstated, "cases_reopened": reopened, "cases_moved_to_legal": moved, "completed": completed}
    if cipher is not None and completed:
        from arrears.agreements.certificates import issue_certificates
        out["certificates"] = issue_certificates(session, cipher=cipher)
    return out


def _reinstate_waivers(session: Session, d: date) -> int:
    """Conditional waivers of breached agreements are owed again, with a reversal entry mirroring the waiver.

    Principal, interest, fee and cost go back onto the old instalments they were waived from (their waiver
    allocations removed), so the engine sees them overdue from their original dates again. Penalty cannot:
    the engine recomputes penalties from principal lateness and the old principal now sits on the agreement's
    instalments, so a penalty put back there would be recomputed away. The waived penalty is therefore owed
    as a fixed amount on one new instalment due on the breach date (fee component, like a carried penalty)."""
    w = ("SELECT coalesce(sum(pa.amount_fen), 0) FROM payment_allocations pa JOIN agr_breach b "
         "ON b.waiver_entry_id = pa.entry_id WHERE b.reinstate = 1 AND pa.source = 'waiver' "
         "AND pa.instalment_id = instalments.id AND pa.component = '{c}'")
    undo = [c for c in COMPONENTS if c != "penalty"]
    sets = ", ".join(f"{c}_waived_fen = {c}_waived_fen - ({w.format(c=c)})" for c in undo)
    session.execute(text(f"""
        UPDATE instalments SET {sets}
        WHERE id IN (SELECT pa.instalment_id FROM payment_allocations pa JOIN agr_breach b
                     ON b.waiver_entry_id = pa.entry_id WHERE b.reinstate = 1 AND pa.source = 'waiver'
                     AND pa.component <> 'penalty')"""))
    session.execute(text("""DELETE FROM payment_allocations WHERE source = 'waiver' AND component <> 'penalty'
                            AND entry_id IN (SELECT waiver_entry_id FROM agr_breach WHERE reinstate = 1)"""))
    execute_typed(session, """
        INSERT INTO instalments (loan_id, borrower_id, seq, due_on, principal_due_fen, interest_due_fen,
                                 penalty_due_fen, fee_due_fen, cost_due_fen, principal_paid_fen, interest_paid_fen,
                                 penalty_paid_fen, fee_paid_fen, cost_paid_fen, principal_waived_fen,
                                 interest_waived_fen, penalty_waived_fen, fee_waived_fen, cost_waived_fen)
        SELECT b.loan_id, b.borrower_id, (SELECT max(i.seq) FROM instalments i WHERE i.loan_id = b.loan_id) + 1, :d,
               0, 0, 0, sum(pa.amount_fen), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        FROM agr_breach b JOIN payment_allocations pa ON pa.entry_id = b.waiver_entry_id
        WHERE b.reinstate = 1 AND pa.source = 'waiver' AND pa.component = 'penalty'
        GROUP BY b.loan_id, b.borrower_id""", {"d": d})
    before = session.execute(text("SELECT coalesce(max(id), 0) FROM journal_entries")).scalar_one()
    execute_typed(session, """
        INSERT INTO journal_entries (loan_id, borrower_id, kind, business_date, reverses_entry_id, memo, created_at)
        SELECT b.loan_id, b.borrower_id, :kind, :d, b.waiver_entry_id,
               'agreement ' || CAST(b.id AS VARCHAR(20)) || ' breached: conditional waiver reinstated', :now
        FROM agr_breach b WHERE b.reinstate = 1 ORDER BY b.id""",
          {"kind": EntryKind.reversal.value, "d": d, "now": utcnow()})
    session.execute(text("""
        INSERT INTO postings (entry_id, loan_id, borrower_id, account, debit_fen, credit_fen)
        SELECT e.id, p.loan_id, p.borrower_id,
               CASE WHEN p.account = :penalty THEN :fee ELSE p.account END, p.credit_fen, p.debit_fen
        FROM journal_entries e JOIN postings p ON p.entry_id = e.reverses_entry_id
        WHERE e.id > :before AND e.kind = :kind ORDER BY e.id, p.id"""),
                    {"before": before, "kind": EntryKind.reversal.value,
                     "penalty": Account.penalty_receivable.value, "fee": Account.fee_receivable.value})
    return int(session.execute(text("SELECT count(*) FROM agr_breach WHERE reinstate = 1")).scalar_one())


def _reopen_cases(session: Session, d: date) -> int:
    """Countersigning closed the loan's case as ``agreement_in_force`` (and end of day opens none while an
    agreement is in force); a breach re-opens that case at the stage it had, so collection — or escalation,
    next — resumes where it stopped. Not when the loan has another open case."""
    life = lifecycle()
    temp_table(session, "agr_case_reopen", "id BIGINT PRIMARY KEY, borrower_id BIGINT, stage VARCHAR(20)")
    session.execute(text("""
        INSERT INTO agr_case_reopen (id, borrower_id, stage)
        SELECT c.id, c.borrower_id, c.stage FROM cases c JOIN agr_breach b ON b.loan_id = c.loan_id
        WHERE c.status = 'closed' AND c.close_reason = 'agreement_in_force'
          AND c.id = (SELECT max(x.id) FROM cases x WHERE x.loan_id = c.loan_id)
          AND NOT EXISTS (SELECT 1 FROM cases o WHERE o.loan_id = c.loan_id AND o.status = 'open')"""))
    action = "CASE stage " + " ".join(
        f"WHEN '{st}' THEN '{life.stage(st).next_action.replace(chr(39), chr(39) * 2)}'" for st in life.stage_codes) \
        + " ELSE '' END"
    execute_typed(session, f"""
        UPDATE cases SET status = 'open', close_reason = NULL, closed_on = NULL, next_action = {action},
               next_action_due = :due, version = version + 1
        WHERE id IN (SELECT id FROM agr_case_reopen)""", {"due": d + timedelta(days=1)})
    append_events(session, subject="case", table="agr_case_reopen", action="case.reopened", actor=ACTOR,
                  reason="agreement breached: collection resumes", cols="s.id, s.borrower_id, s.stage",
                  before="""'{"close_reason":"agreement_in_force","status":"closed"}'""",
                  after="""'{"stage":"' || stage || '","status":"open"}'""")
    return int(session.execute(text("SELECT count(*) FROM agr_case_reopen")).scalar_one())


def _escalate(session: Session, d: date, stage: str) -> int:
    """Open cases of loans escalated to legal move to ``stage`` where the lifecycle allows; else legal_pending."""
    life = lifecycle()
    sources = [s for s in life.stage_codes if stage in life.targets(s)]
    target = life.stage(stage)
    temp_table(session, "agr_case_move", "id BIGINT PRIMARY KEY, borrower_id BIGINT, stage VARCHAR(20)")
    if sources:
        listed = ", ".join(f"'{s}'" for s in sources)
        session.execute(text(f"""
            INSERT INTO agr_case_move (id, borrower_id, stage)
            SELECT c.id, c.borrower_id, c.stage FROM cases c JOIN agr_breach b ON b.loan_id = c.loan_id
            WHERE b.escalation = 'legal' AND c.status = 'open' AND c.stage IN ({listed})"""))
    due = d + timedelta(days=target.next_action_days)
    execute_typed(session, """
        UPDATE cases SET stage = :stage, next_action = :action, next_action_due = :due, version = version + 1
        WHERE id IN (SELECT id FROM agr_case_move)""", {"stage": stage, "action": target.next_action, "due": due})
    append_events(session, subject="case", table="agr_case_move", action="case.stage_moved", actor=ACTOR,
                  reason="agreement breached: escalation to legal", cols="s.id, s.borrower_id, s.stage",
                  before="""'{"stage":"' || stage || '"}'""",
                  after=f"""'{{"next_action":"{target.next_action}","next_action_due":"{due.isoformat()}","""
                        f""""stage":"{stage}"}}'""")
    session.execute(text("""
        UPDATE agr_breach SET escalation = 'legal_pending'
        WHERE escalation = 'legal' AND NOT EXISTS (
            SELECT 1 FROM agr_case_move m JOIN cases c ON c.id = m.id WHERE c.loan_id = agr_breach.loan_id)"""))
    return int(session.execute(text("SELECT count(*) FROM agr_case_move")).scalar_one())


def _complete(session: Session, d: date) -> int:
    """Agreements in force whose loan owes nothing more: completed, and the loan closed."""
    temp_table(session, "agr_done", "id BIGINT PRIMARY KEY, loan_id BIGINT, borrower_id BIGINT")
    execute_typed(session, f"""
        INSERT INTO agr_done (id, loan_id, borrower_id)
        SELECT a.id, a.loan_id, a.borrower_id FROM agreements a
        WHERE a.status = 'countersigned' AND a.executed_on <= :d
          AND NOT EXISTS (SELECT 1 FROM instalments i WHERE i.loan_id = a.loan_id AND ({_OUT5}) > 0)""", {"d": d})
    execute_typed(session, """
        UPDATE agreements SET status = 'completed', ended_on = :d, stops_collection = :f, version = version + 1,
               end_reason = 'all instalments paid'
        WHERE id IN (SELECT id FROM agr_done)""", {"d": d, "f": False})
    session.execute(text("UPDATE loans SET status = 'closed', version = version + 1 "
                         "WHERE id IN (SELECT loan_id FROM agr_done)"))
    append_events(session, subject="agreement", table="agr_done", action="agreement.completed", actor=ACTOR,
                  reason=f"end of day {d.isoformat()}", cols="s.id, s.borrower_id",
                  before="""'{"status":"countersigned"}'""",
                  after=f"""'{{"ended_on":"{d.isoformat()}","status":"completed"}}'""")
    session.execute(text("DROP TABLE IF EXISTS agr_loan_done"))
    temp_table(session, "agr_loan_done", "id BIGINT PRIMARY KEY, borrower_id BIGINT")
    session.execute(text("INSERT INTO agr_loan_done (id, borrower_id) SELECT loan_id, borrower_id FROM agr_done"))
    append_events(session, subject="loan", table="agr_loan_done", action="loan.closed", actor=ACTOR,
                  reason="repayment agreement completed", cols="s.id, s.borrower_id",
                  before="""'{"status":"active"}'""", after="""'{"status":"closed"}'""")
    session.execute(text("DROP TABLE IF EXISTS agr_loan_done"))
    return int(session.execute(text("SELECT count(*) FROM agr_done")).scalar_one())
