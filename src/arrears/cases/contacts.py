"""The contact log: a collector's outbound contact on a case goes through the compliance guard with the
borrower's real history (this log and the messages the outbox sent, all channels) and real flags
(``cases.flags``). Refused → logged with ``allowed = false`` and the rule; allowed → logged, and its outcome
recorded now or later (once). Notes are encrypted; calls and visits may reference their recording.

The recipient must be the case's borrower (their phone, e-mail or address on file) or a third party registered
for that borrower (``third_parties``); anything else is refused before the guard (rule
``contact.recipient_not_of_case``) and nothing is logged, as nothing was attempted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.flags import borrower_flags
from arrears.cases.tables import Case, ContactLog, ThirdParty
from arrears.compliance.guard import check
from arrears.compliance.model import ContactAttempt, ContactHistory, ContactRequest, Decision, Method, Outcome, Party
from arrears.compliance.policy import Profile, packaged_profiles
from arrears.contact.outbox import sent_history
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog

SUBJECT = "case"
# What a collector records → the guard's outcome (compliance.model.Outcome). Raw outcomes are accepted too.
OUTCOMES = {"right_party": Outcome.connected, "wrong_number": Outcome.wrong_number, "no_answer": Outcome.no_answer,
            "refused": Outcome.refused, "promise_to_pay": Outcome.promise, "dispute": Outcome.dispute,
            "hardship_stated": Outcome.hardship}
RECORDED = (Method.call, Method.visit)  # methods with a recording
# An allowed attempt whose outcome is not recorded yet counts as an unanswered one-way attempt: it fills the
# unanswered caps but is never a "failed" contact that would open third-party contact.
PENDING_AS = Outcome.left_message


@dataclass(frozen=True)
class ContactResult:
    contact: ContactLog
    decision: Decision


def outcome_of(value: str) -> Outcome:
    if value in OUTCOMES:
        return OUTCOMES[value]
    try:
        return Outcome(value)
    except ValueError:
        raise InvalidInput(f"unknown outcome {value!r}; use one of {sorted(OUTCOMES)} or {[o.value for o in Outcome]}",
                           field="outcome", rule="contact.outcome") from None


def profile_of(loan: Loan) -> Profile:
    return packaged_profiles()[catalog().product(loan.product_code).compliance_profile]


def contact_history(session: Session, borrower_id: int) -> ContactHistory:
    """Every earlier attempt on the borrower: allowed contact-log rows (all cases) and sent outbox messages."""
    rows = session.execute(select(ContactLog.loan_id, ContactLog.method, ContactLog.party, ContactLog.outcome,
                                  ContactLog.at, ContactLog.third_party_id)
                           .where(ContactLog.borrower_id == borrower_id, ContactLog.allowed.is_(True))).all()
    logged = tuple(ContactAttempt(borrower_id=borrower_id, loan_id=loan, method=method, party=party,
                                  outcome=outcome or PENDING_AS, at=at,
                                  third_party_id=None if tp is None else f"tp:{tp}")
                   for loan, method, party, outcome, at, tp in rows)
    return tuple(sorted(logged + sent_history(session, borrower_id), key=lambda a: a.at))


def _recipient_ok(cipher: PersonalDataCipher, method: Method, to: str, phone_enc: bytes | None,
                  email_enc: bytes | None, address_enc: bytes | None) -> bool:
    def same(blob: bytes | None, normal) -> bool:  # noqa: ANN001
        return blob is not None and normal(cipher.decrypt(blob)) == normal(to)

    phone = lambda v: v.replace(" ", "").replace("-", "").removeprefix("+86")  # noqa: E731
    if method in (Method.call, Method.sms):
        return same(phone_enc, phone)
    if method is Method.email:
        return same(email_enc, lambda v: v.strip().lower())
    if method in (Method.visit, Method.letter):
        return same(address_enc, lambda v: "".join(v.split()))
    return True  # in-app: the borrower's own inbox


def _check_recipient(session: Session, cipher: PersonalDataCipher, borrower: Borrower, method: Method,
                     party: Party, to: str | None, third_party_id: int | None) -> ThirdParty | None:
    refuse = InvalidInput("the number or address does not belong to the case's borrower or a third party "
                          "registered for them", field="to", rule="contact.recipient_not_of_case")
    if party is Party.debtor:
        if third_party_id is not None:
            raise InvalidInput("a contact with the debtor names no third party", field="third_party_id",
                               rule="contact.party")
        if to is not None and not _recipient_ok(cipher, method, to, borrower.phone_enc, borrower.email_enc,
                                                borrower.address_enc):
            raise refuse
        return None
    tp = None if third_party_id is None else session.get(ThirdParty, third_party_id)
    if tp is None or tp.borrower_id != borrower.id:
        raise InvalidInput("name a third party registered for the case's borrower", field="third_party_id",
                           rule="contact.recipient_not_of_case")
    if to is not None and not _recipient_ok(cipher, method, to, tp.phone_enc, None, tp.address_enc):
        raise refuse
    return tp


def open_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id", rule="case.exists")
    if case.status != "open":
        raise Conflict(f"case {case_id} is {case.status}", field="case_id", rule="case.open")
    return case


def request_contact(session: Session, *, cipher: PersonalDataCipher, case_id: int, method: str, party: str,
                    purpose: str, at: datetime, actor: str, agent_user_id: int | None = None, to: str | None = None,
                    third_party_id: int | None = None, outcome: str | None = None, note: str | None = None,
                    recording_ref: str | None = None, template_text: str | None = None,
                    discloses_debt: bool = False) -> ContactResult:
    """Guards, logs and (if given) records the outcome of one contact. A refusal is returned, not raised, so
    the caller commits the refused row (the compliance report counts it) and then answers with the rule."""
    case = open_case(session, case_id)
    borrower, loan = session.get(Borrower, case.borrower_id), session.get(Loan, case.loan_id)
    assert borrower is not None and loan is not None
    request = ContactRequest(case_id=case.id, loan_id=loan.id, borrower_id=borrower.id,
                             borrower_tz=borrower.timezone, method=method, party=party, purpose=purpose, at=at,
                             template_text=template_text, discloses_debt=discloses_debt,
                             third_party_id=None if third_party_id is None else f"tp:{third_party_id}")
    if outcome is not None:
        outcome_of(outcome)  # bad input is refused before anything is logged
    _check_recipient(session, cipher, borrower, request.method, request.party, to, third_party_id)
    decision = check(request, contact_history(session, borrower.id), borrower_flags(session, borrower.id),
                     profile_of(loan))
    row = ContactLog(case_id=case.id, borrower_id=borrower.id, loan_id=loan.id, at=at, method=request.method.value,
                     party=request.party.value, third_party_id=third_party_id, purpose=request.purpose.value,
                     allowed=decision.allowed, refused_rule=decision.rule, agent_user_id=agent_user_id)
    session.add(row)
    session.flush()
    after = {"contact_id": row.id, "method": row.method, "party": row.party, "purpose": row.purpose,
             "allowed": decision.allowed, "rule": decision.rule, "broken": list(decision.broken),
             "next_allowed_at": decision.next_allowed_at}
    append_event(session, actor=actor, action="contact.logged" if decision.allowed else "contact.refused",
                 subject_type=SUBJECT, subject_id=case.id, borrower_id=case.borrower_id, after=after,
                 occurred_at=at)
    if decision.allowed and outcome is not None:
        record_outcome(session, cipher=cipher, contact_id=row.id, outcome=outcome, note=note,
                       recording_ref=recording_ref, actor=actor)
    return ContactResult(row, decision)


def record_outcome(session: Session, *, cipher: PersonalDataCipher, contact_id: int, outcome: str, actor: str,
                   note: str | None = None, recording_ref: str | None = None) -> ContactLog:
    """The outcome of an allowed contact, once."""
    row = session.get(ContactLog, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}", field="contact_id", rule="contact.exists")
    if not row.allowed:
        raise Conflict("the guard refused this contact; it has no outcome", field="contact_id",
                       rule="contact.refused")
    if row.outcome is not None:
        raise Conflict("the outcome is already recorded", field="contact_id", rule="contact.outcome_recorded")
    value = outcome_of(outcome)
    if recording_ref is not None and row.method not in RECORDED:
        raise InvalidInput("only calls and visits have recordings", field="recording_ref",
                           rule="contact.recording_method")
    if recording_ref is not None and not (0 < len(recording_ref.strip()) <= 200):
        raise InvalidInput("1-200 characters", field="recording_ref", rule="contact.recording_ref")
    row.outcome, row.recording_ref = value.value, recording_ref
    row.note_enc = cipher.encrypt(note) if note else None
    session.flush()
    # The note stays out of the event: it may hold personal data (the event only says there is one).
    append_event(session, actor=actor, action="contact.outcome", subject_type=SUBJECT, subject_id=row.case_id,
                 borrower_id=row.borrower_id, after={"contact_id": row.id, "outcome": value.value,
                                                     "recording_ref": recording_ref, "note": bool(note)})
    return row
