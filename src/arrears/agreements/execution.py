"""Executing a countersigned agreement in the caller's transaction: the restructuring in the ledger and the
new schedule in the loan's instalments, so the end-of-day engine follows the agreement.

How the schedule is replaced (the engine's inputs are the instalments and their dated settlements):
- penalty the end of day accrued after the plan date is waived for good (the agreement supersedes it; its own
  entry, never reinstated); any other change of the debt since the plan date is a 409;
- waived amounts are *waived* on the old instalments, oldest first (``<c>_waived_fen`` + a ``waiver``
  allocation dated the execution date + one balanced waiver entry: Dr waiver_expense / Cr receivables);
- the rest of each old instalment's principal, interest, fee and cost is *moved*: its due amount is lowered
  to what was paid and waived, so the old instalment is settled and the loan's principal still sums to
  ``principal_fen`` (the engine rejects a loan whose instalments do not);
- penalty cannot be lowered the same way (the engine recomputes penalties and keeps at least what was
  settled), so moved penalty is settled on the old instalment by a ``restructure`` allocation and carried on
  the new instalments as a fixed amount in their *fee* component (a 'capitalised' penalty: it no longer grows;
  entry Dr fee_receivable / Cr penalty_receivable);
- interest and fees the plan adds are booked as charges; the plan's instalments are appended after the old
  ones (old not-yet-due instalments left empty and untouched by payments are removed first).
Per component, the receivable moves from old instalments to new ones, so ``arrears ledger check`` holds.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from arrears.agreements.policy import policy
from arrears.audit.service import append_event
from arrears.credit.tables import CreditSpecialEvent
from arrears.errors import Conflict, InvalidInput
from arrears.ledger.model import CHARGE_OFFSET, RECEIVABLE, Account, EntryKind, credit, debit, settlement_legs
from arrears.ledger.service import post_entry
from arrears.loans.one_by_one import one_by_one
from arrears.loans.tables import Instalment, Loan, PaymentAllocation
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan
from arrears.products.model import Component

# Where each plan component sits on the new instalments (penalty as a fixed amount, see above).
TARGET = {"principal": "principal", "interest": "interest", "penalty": "fee", "fee": "fee", "cost": "cost"}


def outstanding(instalments: list[Instalment]) -> Amounts:
    return Amounts(**{c: sum(getattr(i, f"{c}_due_fen") - getattr(i, f"{c}_paid_fen") - getattr(i, f"{c}_waived_fen")
                             for i in instalments) for c in COMPONENTS})


def execute(session: Session, *, loan: Loan, plan: Plan, business_date: date, actor: str,
            agreement_id: int) -> dict:
    """Posts the restructuring and replaces the open schedule. Returns what it did (for the event)."""
    if plan.added.principal:
        raise InvalidInput("a plan cannot add principal (the loan's instalments must repay exactly its principal)",
                           field="plan.added.principal", rule="agreement.added_principal")
    # Touch the loan first: its version check runs and (PostgreSQL) its row is locked before the debt is read,
    # so a payment posted at the same time either lands before (then the debt check fails) or waits.
    loan_no = loan.loan_no
    try:
        flag_modified(loan, "restructured")
        session.flush()
    except StaleDataError:
        raise Conflict(f"loan {loan_no} was changed by someone else; reload and try again", field="loan_id",
                       rule="loan.version") from None
    insts = list(session.scalars(select(Instalment).where(Instalment.loan_id == loan.id).order_by(Instalment.seq)))
    now_owed = outstanding(insts)
    # Penalty that end of day accrued between the plan date and now is superseded by the agreement (waived
    # for good); any other change (a payment, a new charge) means the plan no longer restates the debt.
    since = now_owed.penalty - plan.debt.penalty
    if since < 0 or any(getattr(now_owed, c) != getattr(plan.debt, c) for c in COMPONENTS if c != "penalty"):
        raise Conflict(f"the loan's debt changed since the plan date (plan {plan.debt.total} fen, now "
                       f"{now_owed.total} fen): prepare a new agreement", field="plan.debt",
                       rule="agreement.debt_changed")
    memo = f"agreement {agreement_id}"
    if since:
        superseded = post_entry(session, loan=loan, kind=EntryKind.waiver, business_date=business_date,
                                legs=settlement_legs(Account.waiver_expense, {Component.penalty: since}),
                                memo=f"{memo}: penalty accrued after the plan date")
        _waive(session, loan, insts, {"penalty": since}, superseded.id, business_date)
    waiver_entry = None
    if plan.waived:
        waiver_entry = post_entry(session, loan=loan, kind=EntryKind.waiver, business_date=business_date,
                                  legs=settlement_legs(Account.waiver_expense,
                                                       {Component(c): getattr(plan.waiver, c) for c in COMPONENTS}),
                                  memo=f"{memo}: waiver")
        _waive(session, loan, insts, {c: getattr(plan.waiver, c) for c in COMPONENTS}, waiver_entry.id,
               business_date)
    moved_penalty = 0
    for inst in insts:
        for c in COMPONENTS:
            m = getattr(inst, f"{c}_due_fen") - getattr(inst, f"{c}_paid_fen") - getattr(inst, f"{c}_waived_fen")
            if m > 0 and c == "penalty":
                moved_penalty += m
                inst.penalty_paid_fen += m
                session.add(PaymentAllocation(source="restructure", loan_id=loan.id, instalment_id=inst.id,
                                              component=c, amount_fen=m, value_date=business_date,
                                              one_by_one=one_by_one(business_date, inst.due_on,
                                                                    loan.disbursed_on, c)))
            elif m > 0:
                setattr(inst, f"{c}_due_fen", getattr(inst, f"{c}_due_fen") - m)
    session.flush()
    if moved_penalty:
        post_entry(session, loan=loan, kind=EntryKind.fee, business_date=business_date,
                   legs=[debit(Account.fee_receivable, moved_penalty),
                         credit(Account.penalty_receivable, moved_penalty)],
                   memo=f"{memo}: penalty carried as a fixed amount")
    for c in COMPONENTS:
        amount = getattr(plan.added, c)
        if amount:
            kind = EntryKind.interest if c == "interest" else EntryKind.fee
            post_entry(session, loan=loan, kind=kind, business_date=business_date,
                       legs=[debit(RECEIVABLE[Component(TARGET[c])], amount),
                             credit(CHARGE_OFFSET[Component(c)], amount)],
                       memo=f"{memo}: charged by the plan")
    base = _drop_empty_tail(session, loan.id, insts, plan.as_of)
    new = []
    for i in plan.schedule:
        due = {f"{c}_due_fen": 0 for c in ("principal", "interest", "fee", "cost")}
        for c in COMPONENTS:
            due[f"{TARGET[c]}_due_fen"] += getattr(i.amounts, c)
        new.append(Instalment(loan_id=loan.id, borrower_id=loan.borrower_id, seq=base + i.seq, due_on=i.due_on, **due))
    session.add_all(new)
    loan.restructured, loan.restructured_on = True, business_date
    _report_special_events(session, loan, plan, business_date, max((i.due_on for i in insts), default=plan.as_of))
    session.flush()
    done = {"agreement_id": agreement_id, "waiver_entry_id": waiver_entry.id if waiver_entry else None,
            "waived_fen": plan.waived, "penalty_since_plan_waived_fen": since,
            "penalty_carried_fen": moved_penalty, "added_fen": plan.added.total,
            "seq_from": base + 1, "seq_to": base + len(plan.schedule), "restructured_on": business_date.isoformat()}
    append_event(session, actor=actor, action="loan.restructured", subject_type="loan", subject_id=loan.id,
                 borrower_id=loan.borrower_id, after=done)
    return done


def _waive(session: Session, loan: Loan, insts: list[Instalment], amounts: dict[str, int], entry_id: int,
           on: date) -> None:
    """Waives ``amounts`` on the instalments, oldest first, with a ``waiver`` allocation per piece."""
    left = dict(amounts)
    for inst in insts:
        for c, want in left.items():
            owed = getattr(inst, f"{c}_due_fen") - getattr(inst, f"{c}_paid_fen") - getattr(inst, f"{c}_waived_fen")
            w = min(max(owed, 0), want)
            if w:
                left[c] -= w
                setattr(inst, f"{c}_waived_fen", getattr(inst, f"{c}_waived_fen") + w)
                session.add(PaymentAllocation(source="waiver", entry_id=entry_id, loan_id=loan.id,
                                              instalment_id=inst.id, component=c, amount_fen=w, value_date=on,
                                              one_by_one=one_by_one(on, inst.due_on, loan.disbursed_on, c)))


def _drop_empty_tail(session: Session, loan_id: int, insts: list[Instalment], as_of: date) -> int:
    """Removes trailing old instalments not yet due that are now empty and were never settled (so the
    restructuring's observation period starts at the agreement's first instalment); returns the last seq kept."""
    settled = set(session.scalars(select(PaymentAllocation.instalment_id).where(PaymentAllocation.loan_id == loan_id)))
    keep = len(insts)
    while keep and (inst := insts[keep - 1]).due_on > as_of and inst.id not in settled and not any(
            getattr(inst, f"{c}_{k}_fen") for c in COMPONENTS for k in ("due", "paid", "waived")):
        keep -= 1
    gone = [i.id for i in insts[keep:]]
    if gone:
        session.execute(delete(Instalment).where(Instalment.id.in_(gone)))
        for inst in insts[keep:]:
            session.expunge(inst)
    return insts[keep - 1].seq if keep else 0


def plan_total_paid(session: Session, loan_id: int, seq_from: int, seq_to: int) -> int:
    """Everything paid on the agreement's instalments (for the settlement certificate)."""
    cols = [getattr(Instalment, f"{c}_paid_fen") for c in COMPONENTS]
    return int(session.scalar(select(func.coalesce(func.sum(sum(cols[1:], cols[0])), 0)).where(
        Instalment.loan_id == loan_id, Instalment.seq.between(seq_from, seq_to))) or 0)


def special_event_kinds(plan: Plan, old_maturity: date, card: bool) -> dict[str, tuple[int, int]]:
    """The credit-report special transactions an executed plan is (credit/policy.yaml special_transactions):
    kind -> (amount_fen, months_changed). A waiver is a debt reduction (11); a credit-card agreement (the
    product stops collection: 信用卡个性化分期) is a personalised instalment (14); else a plan ending after the
    old maturity is an extension (1) by the months it adds; any other restructuring is reported as the
    policy's ``restructured_default`` (personalised instalment)."""
    kinds: dict[str, tuple[int, int]] = {}
    if plan.waived:
        kinds["debt_reduction"] = (plan.waived, 0)
    end = plan.schedule[-1].due_on
    months = (end.year - old_maturity.year) * 12 + end.month - old_maturity.month
    if not card and (plan.kind == "extension" or months > 0):
        kinds["extension"] = (plan.total_to_pay, max(months, 0))
    else:
        kinds["personalised_instalment"] = (plan.total_to_pay, 0)
    return kinds


def _report_special_events(session: Session, loan: Loan, plan: Plan, on: date, old_maturity: date) -> None:
    """Rows of ``credit_special_events`` for month-end (docs/credit-reporting.md); one per kind and date."""
    have = set(session.scalars(select(CreditSpecialEvent.kind).where(
        CreditSpecialEvent.loan_id == loan.id, CreditSpecialEvent.occurred_on == on)))
    card = policy().product(loan.product_code).stops_collection
    for kind, (amount, months) in special_event_kinds(plan, old_maturity, card).items():
        if kind not in have:
            session.add(CreditSpecialEvent(loan_id=loan.id, borrower_id=loan.borrower_id, kind=kind, occurred_on=on,
                                           amount_fen=amount, months_changed=months, source="agreements",
                                           detail=f"repayment agreement, plan {plan.kind}"[:200]))
