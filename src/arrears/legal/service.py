"""Litigation use cases, one legal case at a time under its version. Each takes the caller's session, never
commits and appends a ``legal_case`` event. Moving the collection case to the legal and enforcement stages
goes through ``cases.service.move_stage``; recoveries are posted through ``loans.payments.post_payment`` so
the ledger and the instalments stay true."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.service import append_event
from arrears.cases.service import close_case, move_stage
from arrears.cases.tables import Case
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.legal.model import (
    Award,
    binding_cap,
    check_award,
    judgment_deadlines,
    settlement_terms,
    whole_fen,
)
from arrears.legal.policy import policy
from arrears.legal.tables import (
    Deadline,
    EnforcementAction,
    Hearing,
    LegalCase,
    LegalCost,
    Recovery,
    Settlement,
)
from arrears.loans.payments import post_payment
from arrears.loans.tables import Loan
from arrears.products.catalog import catalog

SUBJECT = "legal_case"
OUTCOMES = ("recovered", "withdrawn", "terminated")  # closing by hand; "settled" comes from settle()

# Called as hook(session, legal_case, settlement, actor) after an out-of-court settlement is recorded; the
# agreements capability registers one to open the repayment agreement and sets settlement.agreement_id.
SETTLEMENT_HOOKS: list[Callable[[Session, LegalCase, Settlement, str], None]] = []


def _event(session: Session, lc: LegalCase, action: str, actor: str, after: dict, before: dict | None = None,
           reason: str = "") -> None:
    append_event(session, actor=actor, action=action, subject_type=SUBJECT, subject_id=lc.id,
                 borrower_id=lc.borrower_id, before=before, after={"case_id": lc.case_id, "loan_id": lc.loan_id,
                                                                   **after}, reason=reason)


def _flush(session: Session, lc_id: int) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"legal case {lc_id} was changed by someone else; reload and try again",
                       field="expected_version", rule="legal_case.version") from None


def get_legal_case(session: Session, legal_case_id: int) -> LegalCase:
    lc = session.get(LegalCase, legal_case_id)
    if lc is None:
        raise NotFound(f"no legal case {legal_case_id}", field="legal_case_id", rule="legal_case.exists")
    return lc


def _open(session: Session, legal_case_id: int, expected_version: int) -> LegalCase:
    lc = get_legal_case(session, legal_case_id)
    if lc.version != expected_version:
        raise Conflict(f"legal case {legal_case_id} is at version {lc.version}, not {expected_version}; reload "
                       "and try again", field="expected_version", rule="legal_case.version")
    if lc.status != "open":
        raise Conflict(f"legal case {legal_case_id} is closed ({lc.outcome})", field="legal_case_id",
                       rule="legal_case.open")
    return lc


def _text(value: str | None, field: str, limit: int) -> str:
    if value is None or not value.strip():
        raise InvalidInput("is required", field=field, rule="legal.required")
    if len(value.strip()) > limit:
        raise InvalidInput(f"is longer than {limit} characters", field=field, rule="legal.length")
    return value.strip()


def _not_before(day: date, earlier: date | None, field: str, what: str) -> None:
    if earlier is not None and day < earlier:
        raise InvalidInput(f"{day} is before {what} ({earlier})", field=field, rule="legal.date_order")


def open_legal_case(session: Session, *, case_id: int, expected_case_version: int, actor: str, reason: str,
                    today: date, officer_user_id: int | None = None) -> LegalCase:
    """Takes an open collection case to law: moves it to the ``legal`` stage (if not there yet) and opens the
    legal case. One open legal case per collection case."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id", rule="case.exists")
    if case.stage not in ("legal", "enforcement"):
        case = move_stage(session, case_id=case_id, to_stage="legal", actor=actor, reason=reason,
                          expected_version=expected_case_version, today=today)
    elif case.version != expected_case_version:
        raise Conflict(f"case {case_id} is at version {case.version}, not {expected_case_version}",
                       field="expected_case_version", rule="case.version")
    if case.status != "open":
        raise Conflict(f"case {case_id} is {case.status}", field="case_id", rule="case.open")
    if session.scalar(select(LegalCase.id).where(LegalCase.case_id == case_id, LegalCase.status == "open")):
        raise Conflict(f"case {case_id} already has an open legal case", field="case_id", rule="legal_case.one_open")
    lc = LegalCase(case_id=case.id, loan_id=case.loan_id, borrower_id=case.borrower_id, status="open",
                   phase="preparing", opened_on=today, officer_user_id=officer_user_id or case.owner_user_id,
                   recovered_fen=0)
    session.add(lc)
    _flush(session, 0)
    _event(session, lc, "legal.case_opened", actor, {"opened_on": today, "officer_user_id": lc.officer_user_id},
           reason=reason)
    return lc


def file_claim(session: Session, *, legal_case_id: int, expected_version: int, court: str, court_case_no: str,
               firm: str, lawyer: str, filed_on: date, claim_fen: int, actor: str) -> LegalCase:
    """Records the filing (立案): court, case number, the firm and lawyer, the amount claimed."""
    lc = _open(session, legal_case_id, expected_version)
    if lc.phase != "preparing":
        raise Conflict(f"legal case {lc.id} was already filed", field="legal_case_id", rule="legal_case.filed_once")
    _not_before(filed_on, lc.opened_on, "filed_on", "the legal case was opened")
    values = {"court": _text(court, "court", 120), "court_case_no": _text(court_case_no, "court_case_no", 80),
              "firm": _text(firm, "firm", 120), "lawyer": _text(lawyer, "lawyer", 60), "filed_on": filed_on,
              "claim_fen": whole_fen(claim_fen, "claim_fen", positive=True), "phase": "filed"}
    for name, value in values.items():  # all checked before any is set
        setattr(lc, name, value)
    _flush(session, lc.id)
    _event(session, lc, "legal.filed", actor, {"court": lc.court, "court_case_no": lc.court_case_no,
                                               "firm": lc.firm, "lawyer": lc.lawyer, "filed_on": filed_on,
                                               "claim_fen": claim_fen})
    return lc


def add_hearing(session: Session, *, legal_case_id: int, held_on: date, kind: str, note: str, actor: str) -> Hearing:
    lc = get_legal_case(session, legal_case_id)
    if lc.filed_on is None:
        raise Conflict("a hearing needs a filed claim", field="legal_case_id", rule="legal_case.filed")
    _not_before(held_on, lc.filed_on, "held_on", "the filing")
    hearing = Hearing(legal_case_id=lc.id, held_on=held_on, kind=_text(kind, "kind", 30), note=note[:500])
    session.add(hearing)
    session.flush()
    _event(session, lc, "legal.hearing", actor, {"hearing_id": hearing.id, "held_on": held_on, "kind": hearing.kind})
    return hearing


def record_judgment(session: Session, *, legal_case_id: int, expected_version: int, judgment_no: str,
                    judgment_on: date, served_on: date, award: Award, interest_until: date, actor: str,
                    performance_days: int | None = None) -> LegalCase:
    """Records the judgment; refuses one whose interest, penalties and fees exceed the legal cap (the rule is
    named). Sets the appeal and enforcement-application deadlines from policy.yaml."""
    lc = _open(session, legal_case_id, expected_version)
    if lc.phase != "filed":
        raise Conflict(f"legal case {lc.id} is {lc.phase}; a judgment needs a filed claim and no judgment yet",
                       field="legal_case_id", rule="legal_case.judgment_once")
    _not_before(judgment_on, lc.filed_on, "judgment_on", "the filing")
    _not_before(served_on, judgment_on, "served_on", "the judgment")
    loan = session.get(Loan, lc.loan_id)
    assert loan is not None
    if award.principal_fen > loan.principal_fen:
        raise InvalidInput(f"principal awarded exceeds the loan's principal ({loan.principal_fen} fen)",
                           field="award.principal_fen", rule="legal.award_principal_within_loan")
    products = catalog()
    cap = binding_cap(principal_fen=award.principal_fen, disbursed_on=loan.disbursed_on,
                      interest_until=interest_until, product=products.product(loan.product_code),
                      legal=products.legal, policy=policy())
    check_award(award, cap)
    days = policy().performance_days_default.days if performance_days is None else performance_days
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
        raise InvalidInput("must be 0-365 days", field="performance_days", rule="legal.performance_days")
    dates = judgment_deadlines(served_on=served_on, performance_days=days, policy=policy())
    lc.judgment_no, lc.judgment_on, lc.judgment_served_on = _text(judgment_no, "judgment_no", 80), judgment_on, served_on
    lc.awarded_principal_fen, lc.awarded_interest_fen = award.principal_fen, award.interest_fen
    lc.awarded_penalty_fen, lc.awarded_fee_fen, lc.awarded_costs_fen = award.penalty_fen, award.fee_fen, award.costs_fen
    lc.interest_until, lc.performance_due_on, lc.phase = interest_until, dates["performance_due_on"], "judged"
    for kind, rule in policy().deadlines.items():
        session.add(Deadline(legal_case_id=lc.id, kind=kind, due_on=dates[kind], status="open", source=rule.source,
                             remind_on=dates[kind] - timedelta(days=rule.remind_days_before)))
    _flush(session, lc.id)
    _event(session, lc, "legal.judgment", actor, {
        "judgment_no": lc.judgment_no, "judgment_on": judgment_on, "served_on": served_on,
        "award": {"principal_fen": award.principal_fen, "interest_fen": award.interest_fen,
                  "penalty_fen": award.penalty_fen, "fee_fen": award.fee_fen, "costs_fen": award.costs_fen},
        "cap": {"rule": cap.rule, "limit_fen": cap.limit_fen}, "deadlines": dates})
    return lc


def add_enforcement_action(session: Session, *, legal_case_id: int, expected_version: int, kind: str,
                           taken_on: date, actor: str, reference: str = "", amount_fen: int = 0,
                           note: str = "") -> EnforcementAction:
    """Records an enforcement action (policy.yaml enforcement_actions). The first one means enforcement was
    applied for: the enforcement-application deadline is met and the collection case moves to ``enforcement``."""
    lc = _open(session, legal_case_id, expected_version)
    kinds = policy().enforcement_actions
    if kind not in kinds:
        raise InvalidInput(f"unknown enforcement action {kind!r}; use one of {sorted(kinds)}", field="kind",
                           rule="legal.enforcement_kind")
    if lc.phase not in ("judged", "enforcing"):
        raise Conflict("enforcement needs a judgment", field="legal_case_id", rule="legal_case.judged")
    _not_before(taken_on, lc.judgment_on, "taken_on", "the judgment")
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
    _flush(session, lc.id)
    _event(session, lc, "legal.enforcement_action", actor, {"action_id": action.id, "kind": kind,
                                                            "taken_on": taken_on, "reference": action.reference,
                                                            "amount_fen": amount_fen})
    return action


def add_cost(session: Session, *, legal_case_id: int, kind: str, amount_fen: int, incurred_on: date, actor: str,
             note: str = "") -> LegalCost:
    lc = get_legal_case(session, legal_case_id)
    if kind not in policy().cost_kinds:
        raise InvalidInput(f"unknown cost kind {kind!r}; use one of {sorted(policy().cost_kinds)}", field="kind",
                           rule="legal.cost_kind")
    cost = LegalCost(legal_case_id=lc.id, kind=kind, amount_fen=whole_fen(amount_fen, "amount_fen", positive=True),
                     incurred_on=incurred_on, note=note[:300])
    session.add(cost)
    session.flush()
    _event(session, lc, "legal.cost", actor, {"cost_id": cost.id, "kind": kind, "amount_fen": amount_fen,
                                              "incurred_on": incurred_on})
    return cost


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
    recovery = Recovery(legal_case_id=lc.id, payment_id=result.payment_id, source=_text(source, "source", 30),
                        amount_fen=amount_fen, received_on=received_on)
    session.add(recovery)
    before = lc.recovered_fen
    lc.recovered_fen = before + amount_fen
    _flush(session, lc.id)
    _event(session, lc, "legal.recovery", actor, {"payment_id": result.payment_id, "amount_fen": amount_fen,
                                                  "received_on": received_on, "source": source,
                                                  "recovered_fen": lc.recovered_fen},
           before={"recovered_fen": before})
    return recovery


def settle(session: Session, *, legal_case_id: int, expected_version: int, settled_on: date, total_fen: int,
           terms: dict, actor: str) -> Settlement:
    """An out-of-court settlement at any point: records the settled plan, closes the legal case (outcome
    ``settled``, open deadlines done) and the collection case (policy.yaml settlement_close_reason), then runs
    SETTLEMENT_HOOKS (the agreements capability opens the agreement from ``settlement.terms``)."""
    lc = _open(session, legal_case_id, expected_version)
    _not_before(settled_on, lc.opened_on, "settled_on", "the legal case was opened")
    settlement = Settlement(legal_case_id=lc.id, settled_on=settled_on,
                            total_fen=whole_fen(total_fen, "total_fen", positive=True), terms=settlement_terms(terms, total_fen))
    session.add(settlement)
    before = {"status": lc.status, "phase": lc.phase}
    lc.status, lc.outcome, lc.closed_on = "closed", "settled", settled_on
    session.execute(update(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                    .values(status="done"))
    _flush(session, lc.id)
    case = session.get(Case, lc.case_id)
    if case is not None and case.status == "open":
        close_case(session, case_id=case.id, close_reason=policy().settlement_close_reason, actor=actor,
                   expected_version=case.version, today=settled_on, reason=f"out-of-court settlement {settlement.id}")
    _event(session, lc, "legal.settled", actor, {"settlement_id": settlement.id, "settled_on": settled_on,
                                                 "total_fen": total_fen, "terms": settlement.terms,
                                                 "status": "closed", "outcome": "settled"}, before=before)
    for hook in SETTLEMENT_HOOKS:
        hook(session, lc, settlement, actor)
    return settlement


def close_legal_case(session: Session, *, legal_case_id: int, expected_version: int, outcome: str, today: date,
                     actor: str, reason: str = "") -> LegalCase:
    lc = _open(session, legal_case_id, expected_version)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"unknown outcome {outcome!r}; use one of {list(OUTCOMES)} (or settle)", field="outcome",
                           rule="legal.outcome")
    before = {"status": lc.status, "phase": lc.phase}
    lc.status, lc.outcome, lc.closed_on = "closed", outcome, today
    session.execute(update(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                    .values(status="done"))
    _flush(session, lc.id)
    _event(session, lc, "legal.closed", actor, {"status": "closed", "outcome": outcome, "closed_on": today},
           before=before, reason=reason)
    return lc
