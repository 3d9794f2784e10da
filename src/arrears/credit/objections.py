"""Objections (异议) to reported credit information: recorded on a known account (which is then reported as
disputed), verified and answered within policy ``objection.answer_days`` (征信业管理条例 Art. 25); an upheld
objection's corrected month codes go out with the next month-end file."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.contact.outbox import queue_message
from arrears.credit.policy import CreditPolicy, credit_policy
from arrears.credit.tables import CreditCorrection, CreditObjection
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher

MAX_TEXT = 2000


def _text(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInput(f"must be 1–{MAX_TEXT} characters", field=name, rule="credit.objection_text")
    return value.strip()


def record_objection(session: Session, *, loan_id: int, claim: str, received_on: date, actor: str,
                     cipher: PersonalDataCipher, today: date, policy: CreditPolicy | None = None) -> CreditObjection:
    policy = policy or credit_policy()
    loan = session.get(Loan, loan_id) if isinstance(loan_id, int) else None
    if loan is None:
        raise NotFound(f"no account (loan) {loan_id} to object to", field="loan_id",
                       rule="credit.objection_account_known")
    if received_on > today:
        raise InvalidInput(f"received_on {received_on} is after today ({today})", field="received_on",
                           rule="credit.objection_received_not_future")
    objection = CreditObjection(loan_id=loan.id, borrower_id=loan.borrower_id, received_on=received_on,
                                due_on=received_on + timedelta(days=policy.objection.answer_days),
                                claim_enc=cipher.encrypt(_text(claim, "claim")), status="open")
    session.add(objection)
    session.flush()
    append_event(session, actor=actor, action="credit.objection_recorded", subject_type="loan", subject_id=loan.id,
                 borrower_id=loan.borrower_id, after={"objection_id": objection.id, "received_on": received_on,
                                                      "due_on": objection.due_on, "disputed": True})
    return objection


def answer_objection(session: Session, *, objection_id: int, upheld: bool, answer: str,
                     corrections: list[tuple[date, str]], today: date, actor: str, cipher: PersonalDataCipher,
                     expected_version: int, policy: CreditPolicy | None = None,
                     channel: str = "sms") -> CreditObjection:
    """Closes the objection as upheld (with the corrected month codes) or rejected, and sends the answer."""
    policy = policy or credit_policy()
    objection = load_versioned(session, CreditObjection, objection_id, expected_version, "objection",
                               exists_rule="credit.objection_exists", version_rule="credit.objection_version")
    if objection.status != "open":
        raise Conflict(f"objection {objection_id} was already answered", field="objection_id",
                       rule="credit.objection_open")
    text = _text(answer, "answer")
    alphabet = policy.status_codes.alphabet
    if not upheld and corrections:
        raise InvalidInput("a rejected objection corrects nothing", field="corrections",
                           rule="credit.objection_corrections")
    for i, (month, code) in enumerate(corrections):
        if month.day != 1 or month > today:
            raise InvalidInput(f"corrections[{i}]: month must be a past month", field="corrections",
                               rule="credit.correction_month")
        if not isinstance(code, str) or len(code) != 1 or code not in alphabet:
            raise InvalidInput(f"corrections[{i}]: code must be one of {alphabet}", field="corrections",
                               rule="credit.correction_code")
    for month, code in corrections:
        fix = session.scalar(select(CreditCorrection).where(CreditCorrection.loan_id == objection.loan_id,
                                                            CreditCorrection.month == month))
        if fix is None:
            session.add(CreditCorrection(objection_id=objection.id, loan_id=objection.loan_id, month=month,
                                         code=code))
        else:  # a later correction of the same month replaces it and is reported again
            fix.objection_id, fix.code, fix.reported_month = objection.id, code, None
    objection.status = "upheld" if upheld else "rejected"
    objection.answer_enc, objection.answered_on = cipher.encrypt(text), today
    objection.answered_late = today > objection.due_on
    flush_versioned(session, "objection", rule="credit.objection_version")
    loan, borrower = session.get(Loan, objection.loan_id), session.get(Borrower, objection.borrower_id)
    queue_message(session, cipher=cipher, borrower_id=borrower.id, loan_id=loan.id, channel=channel,
                  template="credit_objection_answer", dedupe_key=f"credit-objection:{objection.id}", actor=actor,
                  variables={"borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan.loan_no,
                             "received_on": objection.received_on, "outcome": text})
    append_event(session, actor=actor, action="credit.objection_answered", subject_type="loan", subject_id=loan.id,
                 borrower_id=loan.borrower_id, after={
                     "objection_id": objection.id, "status": objection.status, "answered_on": today,
                     "late": objection.answered_late,
                     "corrections": [{"month": m.isoformat(), "code": c} for m, c in corrections]})
    return objection


def overdue_objections(session: Session, today: date) -> list[CreditObjection]:
    """Open objections past their answer date (to escalate)."""
    return list(session.scalars(select(CreditObjection).where(CreditObjection.status == "open",
                                                              CreditObjection.due_on < today)
                                .order_by(CreditObjection.due_on)))
