"""What follows a judgment, or ends a legal case at any point: enforcement actions, recoveries (posted through
``loans.payments.post_payment`` so the ledger and the instalments stay true), an out-of-court settlement and
closing. Same rules as ``service.py``: the caller's session, no commit, a ``legal_case`` event each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from arrears.cases.service import close_case, move_stage
from arrears.cases.tables import Case
from arrears.errors import Conflict, InvalidInput
from arrears.legal.model import settlement_terms, whole_fen
from arrears.legal.policy import policy
from arrears.legal.service import (
    check_not_before,
    flush_or_conflict,
    get_legal_case,
    open_for_change,
    record_event,
    required_text,
)
from arrears.legal.tables import Deadline, EnforcementAction, LegalCase, Recovery, Settlement
from arrears.loans.payments import post_payment

OUTCOMES = ("recovered", "withdrawn", "terminated")  # closing by hand; "settled" comes from settle()

# Called as hook(session, legal_case, settlement, actor) after an out-of-court settlement is recorded; the
# agreements capability registers one to open the repayment agreement and sets settlement.agreement_id.
SETTLEMENT_HOOKS: list[Callable[[Session, LegalCase, Settlement, str], None]] = []


def add_enforcement_action(session: Session, *, legal_case_id: int, expected_version: int, kind: str,
                           taken_on: date, actor: str, reference: str = "", amount_fen: int = 0,
                           note: str = "") -> EnforcementAction:
    """Records an enforcement action (policy.yaml enforcement_actions). The first one means enforcement was
    applied for: the enforcement-application deadline is met and the collection case moves to ``enforcement``."""
    lc = open_for_change(session, legal_case_id, expected_version)
    kinds = policy().enforcement_actions
    if kind not in kinds:
        raise InvalidInput(f"unknown enforcement action {kind!r}; use one of {sorted(kinds)}", field="kind",
                           rule="legal.enforcement_kind")
    if lc.phase not in ("judged", "enforcing"):
        raise Conflict("enforcement needs a judgment", field="legal_case_id", rule="legal_case.judged")
    check_not_before(taken_on, lc.judgment_on, "taken_on", "the judgment")
    action = EnforcementAction(legal_case_id=lc.id, kind=kind, taken_on=taken_on, reference=reference[:120],
                               amount_fen=whole_fen(amount_fen, "amount_fen"), note=note[:500])
    session.add(action)
    if lc.phase == "judged":
        lc.phase = "enforcing"
        session.execute(update(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                        .values(status="done"))
        case = session.get(Case, lc.case_id)
        if case is not None and case.status == "open" and case.stage != "enforcement":
            move_stage(session, case_id=case.id, to_stage="enforcement", actor=actor, today=taken_on,
                       reason=f"enforcement applied for ({kinds[kind].name_zh})", expected_version=case.version)
    flush_or_conflict(session, lc.id)
    record_event(session, lc, "legal.enforcement_action", actor, {"action_id": action.id, "kind": kind,
                                                            "taken_on": taken_on, "reference": action.reference,
                                                            "amount_fen": amount_fen})
    return action


def record_recovery(session: Session, *, legal_case_id: int, amount_fen: int, received_on: date, source: str,
                    idempotency_key: str, actor: str, today: date) -> Recovery:
    """Money recovered (paid voluntarily, by enforcement, from an auction): posted as a payment on the loan by
    its waterfall, so the ledger and instalments say what was recovered. Replays return the same recovery."""
    lc = get_legal_case(session, legal_case_id)
    result = post_payment(session, loan_id=lc.loan_id, amount_fen=whole_fen(amount_fen, "amount_fen", positive=True),
                          received_on=received_on, idempotency_key=idempotency_key, channel=f"legal_{source}"[:30],
                          external_ref=lc.court_case_no, actor=actor, today=today)
    existing = session.scalar(select(Recovery).where(Recovery.payment_id == result.payment_id))
    if existing is not None:
        return existing
    recovery = Recovery(legal_case_id=lc.id, payment_id=result.payment_id, source=required_text(source, "source", 30),
                        amount_fen=amount_fen, received_on=received_on)
    session.add(recovery)
    before = lc.recovered_fen
    lc.recovered_fen = before + amount_fen
    flush_or_conflict(session, lc.id)
    record_event(session, lc, "legal.recovery", actor, {"payment_id": result.payment_id, "amount_fen": amount_fen,
                                                  "received_on": received_on, "source": source,
                                                  "recovered_fen": lc.recovered_fen},
           before={"recovered_fen": before})
    return recovery


def settle(session: Session, *, legal_case_id: int, expected_version: int, settled_on: date, total_fen: int,
           terms: dict, actor: str) -> Settlement:
    """An out-of-court settlement at any point: records the settled plan, closes the legal case (outcome
    ``settled``, open deadlines done) and the collection case (policy.yaml settlement_close_reason), then runs
    SETTLEMENT_HOOKS (the agreements capability opens the agreement from ``settlement.terms``)."""
    lc = open_for_change(session, legal_case_id, expected_version)
    check_not_before(settled_on, lc.opened_on, "settled_on", "the legal case was opened")
    settlement = Settlement(legal_case_id=lc.id, settled_on=settled_on,
                            total_fen=whole_fen(total_fen, "total_fen", positive=True),
                            terms=settlement_terms(terms, total_fen))
    session.add(settlement)
    before = {"status": lc.status, "phase": lc.phase}
    lc.status, lc.outcome, lc.closed_on = "closed", "settled", settled_on
    session.execute(update(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                    .values(status="done"))
    flush_or_conflict(session, lc.id)
    case = session.get(Case, lc.case_id)
    if case is not None and case.status == "open":
        close_case(session, case_id=case.id, close_reason=policy().settlement_close_reason, actor=actor,
                   expected_version=case.version, today=settled_on, reason=f"out-of-court settlement {settlement.id}")
    record_event(session, lc, "legal.settled", actor, {"settlement_id": settlement.id, "settled_on": settled_on,
                                                 "total_fen": total_fen, "terms": settlement.terms,
                                                 "status": "closed", "outcome": "settled"}, before=before)
    for hook in SETTLEMENT_HOOKS:
        hook(session, lc, settlement, actor)
    return settlement


def close_legal_case(session: Session, *, legal_case_id: int, expected_version: int, outcome: str, today: date,
                     actor: str, reason: str = "") -> LegalCase:
    lc = open_for_change(session, legal_case_id, expected_version)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"unknown outcome {outcome!r}; use one of {list(OUTCOMES)} (or settle)", field="outcome",
                           rule="legal.outcome")
    before = {"status": lc.status, "phase": lc.phase}
    lc.status, lc.outcome, lc.closed_on = "closed", outcome, today
    session.execute(update(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                    .values(status="done"))
    flush_or_conflict(session, lc.id)
    record_event(session, lc, "legal.closed", actor, {"status": "closed", "outcome": outcome, "closed_on": today},
           before=before, reason=reason)
    return lc


def loans_with_outcome(session: Session, outcomes: list[str]) -> list[int]:
    """Loans with a legal case closed with one of ``outcomes`` (OUTCOMES or ``settled``): the write-off rules'
    selection by legal outcome (writeoff/hooks.py)."""
    if not outcomes:
        return []
    return sorted(set(session.scalars(select(LegalCase.loan_id).where(
        LegalCase.status == "closed", LegalCase.outcome.in_(outcomes)))))
