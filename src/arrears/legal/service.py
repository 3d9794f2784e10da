"""Litigation use cases up to the judgment, one legal case at a time under its version (what follows it is in
``outcomes.py``). Each takes the caller's session, never commits and appends a ``legal_case`` event. Moving
the collection case to the legal stage goes through ``cases.service.move_stage``."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.legal.model import (
    Award,
    binding_cap,
    check_award,
    judgment_deadlines,
    whole_fen,
)
from arrears.legal.policy import policy
from arrears.legal.tables import Deadline, Hearing, LegalCase, LegalCost
from arrears.ledger.model import Component, EntryKind, charge_legs
from arrears.ledger.service import post_entry
from arrears.loans.payments import instalment_balance
from arrears.loans.tables import Instalment, Loan
from arrears.products.catalog import catalog

SUBJECT = "legal_case"


def record_event(session: Session, lc: LegalCase, action: str, actor: str, after: dict,
                 before: dict | None = None, reason: str = "") -> None:
    """Appends an event to the legal case's chain; every event names the collection case and the loan."""
    append_event(session, actor=actor, action=action, subject_type=SUBJECT, subject_id=lc.id,
                 borrower_id=lc.borrower_id, before=before, after={"case_id": lc.case_id, "loan_id": lc.loan_id,
                                                                   **after}, reason=reason)


def flush_or_conflict(session: Session, lc_id: int) -> None:  # noqa: ARG001 (kept for outcomes.py's calls)
    flush_versioned(session, "legal case")


def get_legal_case(session: Session, legal_case_id: int) -> LegalCase:
    lc = session.get(LegalCase, legal_case_id)
    if lc is None:
        raise NotFound(f"no legal case {legal_case_id}", field="legal_case_id", rule="legal_case.exists")
    return lc


def open_for_change(session: Session, legal_case_id: int, expected_version: int) -> LegalCase:
    lc = load_versioned(session, LegalCase, legal_case_id, expected_version, "legal case")
    if lc.status != "open":
        raise Conflict(f"legal case {legal_case_id} is closed ({lc.outcome})", field="legal_case_id",
                       rule="legal_case.open")
    return lc


def required_text(value: str | None, field: str, limit: int) -> str:
    if value is None or not value.strip():
        raise InvalidInput("is required", field=field, rule="legal.required")
    if len(value.strip()) > limit:
        raise InvalidInput(f"is longer than {limit} characters", field=field, rule="legal.length")
    return value.strip()


def check_not_before(day: date, earlier: date | None, field: str, what: str) -> None:
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
    flush_or_conflict(session, 0)
    record_event(session, lc, "legal.case_opened", actor,
                 {"opened_on": today, "officer_user_id": lc.officer_user_id},
           reason=reason)
    return lc


def file_claim(session: Session, *, legal_case_id: int, expected_version: int, court: str, court_case_no: str,
               firm: str, lawyer: str, filed_on: date, claim_fen: int, actor: str) -> LegalCase:
    """Records the filing (立案): court, case number, the firm and lawyer, the amount claimed."""
    lc = open_for_change(session, legal_case_id, expected_version)
    if lc.phase != "preparing":
        raise Conflict(f"legal case {lc.id} was already filed", field="legal_case_id", rule="legal_case.filed_once")
    check_not_before(filed_on, lc.opened_on, "filed_on", "the legal case was opened")
    values = {"court": required_text(court, "court", 120),
              "court_case_no": required_text(court_case_no, "court_case_no", 80),
              "firm": required_text(firm, "firm", 120), "lawyer": required_text(lawyer, "lawyer", 60),
              "filed_on": filed_on,
              "claim_fen": whole_fen(claim_fen, "claim_fen", positive=True), "phase": "filed"}
    for name, value in values.items():  # all checked before any is set
        setattr(lc, name, value)
    flush_or_conflict(session, lc.id)
    record_event(session, lc, "legal.filed", actor, {"court": lc.court, "court_case_no": lc.court_case_no,
                                               "firm": lc.firm, "lawyer": lc.lawyer, "filed_on": filed_on,
                                               "claim_fen": claim_fen})
    return lc


def add_hearing(session: Session, *, legal_case_id: int, held_on: date, kind: str, note: str,
                actor: str) -> Hearing:
    lc = get_legal_case(session, legal_case_id)
    if lc.filed_on is None:
        raise Conflict("a hearing needs a filed claim", field="legal_case_id", rule="legal_case.filed")
    check_not_before(held_on, lc.filed_on, "held_on", "the filing")
    hearing = Hearing(legal_case_id=lc.id, held_on=held_on, kind=required_text(kind, "kind", 30), note=note[:500])
    session.add(hearing)
    session.flush()
    record_event(session, lc, "legal.hearing", actor,
                 {"hearing_id": hearing.id, "held_on": held_on, "kind": hearing.kind})
    return hearing


def record_judgment(session: Session, *, legal_case_id: int, expected_version: int, judgment_no: str,
                    judgment_on: date, served_on: date, award: Award, interest_until: date, actor: str,
                    performance_days: int | None = None) -> LegalCase:
    """Records the judgment; refuses one whose interest, penalties and fees exceed the legal cap (the rule is
    named). Sets the appeal and enforcement-application deadlines from policy.yaml."""
    lc = open_for_change(session, legal_case_id, expected_version)
    if lc.phase != "filed":
        raise Conflict(f"legal case {lc.id} is {lc.phase}; a judgment needs a filed claim and no judgment yet",
                       field="legal_case_id", rule="legal_case.judgment_once")
    check_not_before(judgment_on, lc.filed_on, "judgment_on", "the filing")
    check_not_before(served_on, judgment_on, "served_on", "the judgment")
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
    number = required_text(judgment_no, "judgment_no", 80)
    lc.judgment_no, lc.judgment_on, lc.judgment_served_on = number, judgment_on, served_on
    lc.awarded_principal_fen, lc.awarded_interest_fen = award.principal_fen, award.interest_fen
    lc.awarded_penalty_fen, lc.awarded_fee_fen = award.penalty_fen, award.fee_fen
    lc.awarded_costs_fen = award.costs_fen
    lc.interest_until, lc.performance_due_on, lc.phase = interest_until, dates["performance_due_on"], "judged"
    for kind, rule in policy().deadlines.items():
        session.add(Deadline(legal_case_id=lc.id, kind=kind, due_on=dates[kind], status="open", source=rule.source,
                             remind_on=dates[kind] - timedelta(days=rule.remind_days_before)))
    flush_or_conflict(session, lc.id)
    charge_awarded_costs(session, loan, award.costs_fen, judgment_on, lc.judgment_no)
    record_event(session, lc, "legal.judgment", actor, {
        "judgment_no": lc.judgment_no, "judgment_on": judgment_on, "served_on": served_on,
        "award": {"principal_fen": award.principal_fen, "interest_fen": award.interest_fen,
                  "penalty_fen": award.penalty_fen, "fee_fen": award.fee_fen, "costs_fen": award.costs_fen},
        "cap": {"rule": cap.rule, "limit_fen": cap.limit_fen}, "deadlines": dates})
    return lc


def charge_awarded_costs(session: Session, loan: Loan, costs_fen: int, on: date, judgment_no: str) -> None:
    """The litigation costs the court ordered the borrower to bear (诉讼费 etc.) become a cost the loan owes:
    added to its oldest instalment not fully settled (else its last) and posted as a cost receivable, so
    payments and recoveries settle them first (民法典 Art. 561). Costs the institution bears itself
    (``add_cost``) are never charged to the borrower."""
    if costs_fen <= 0:
        return
    rows = session.scalars(select(Instalment).where(Instalment.loan_id == loan.id).order_by(Instalment.seq)).all()
    target = next((i for i in rows if instalment_balance(i).outstanding_total > 0), rows[-1])
    target.cost_due_fen += costs_fen
    post_entry(session, loan=loan, kind=EntryKind.cost, business_date=on, legs=charge_legs(Component.cost, costs_fen),
               memo=f"litigation costs awarded: {judgment_no}")


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
    record_event(session, lc, "legal.cost", actor, {"cost_id": cost.id, "kind": kind, "amount_fen": amount_fen,
                                              "incurred_on": incurred_on})
    return cost


