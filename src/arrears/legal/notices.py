"""Lawyer letters and legal notices (律师函, 起诉前通知): one per collection case and kind.

The amounts come from the loan's instalments (what has fallen due and is unpaid, by component), the text from
the contact templates (purpose ``legal_notice``, content-checked when rendered), the decision to send from the
compliance guard (freezes such as an open complaint refuse it; quiet hours only delay it), and the sending
from the outbox (a PDF letter by the worker's letter channel). The dedupe key ``legal:<kind>:case:<id>``
makes a second request return the notice already queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.tables import Case, ContactLog
from arrears.complaints.tables import Complaint
from arrears.compliance.guard import check
from arrears.compliance.model import BorrowerFlags, ContactAttempt, ContactRequest
from arrears.compliance.policy import packaged_profiles
from arrears.contact.letters import LetterRenderer
from arrears.contact.outbox import queue_message, sent_history
from arrears.contact.tables import OutboxMessage
from arrears.contact.templates import catalog
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.legal.policy import policy
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog as products

COMPONENTS = ("principal", "interest", "penalty", "fee", "cost")


@dataclass(frozen=True)
class Owed:
    """What has fallen due by ``on`` and is unpaid, by component, and since when."""

    by_component: dict[str, int]
    oldest_due_on: date | None
    days_overdue: int

    @property
    def total_fen(self) -> int:
        return sum(self.by_component.values())


def owed(session: Session, loan_id: int, on: date) -> Owed:
    cols = {c: func.coalesce(func.sum(getattr(Instalment, f"{c}_due_fen") - getattr(Instalment, f"{c}_paid_fen")
                                      - getattr(Instalment, f"{c}_waived_fen")), 0) for c in COMPONENTS}
    open_row = (Instalment.principal_due_fen + Instalment.interest_due_fen + Instalment.penalty_due_fen
                + Instalment.fee_due_fen + Instalment.cost_due_fen - Instalment.principal_paid_fen
                - Instalment.interest_paid_fen - Instalment.penalty_paid_fen - Instalment.fee_paid_fen
                - Instalment.cost_paid_fen - Instalment.principal_waived_fen - Instalment.interest_waived_fen
                - Instalment.penalty_waived_fen - Instalment.fee_waived_fen - Instalment.cost_waived_fen) > 0
    due = (Instalment.loan_id == loan_id, Instalment.due_on <= on)
    row = session.execute(select(*cols.values()).where(*due)).one()
    oldest = session.scalar(select(func.min(Instalment.due_on)).where(*due, open_row))
    return Owed(dict(zip(COMPONENTS, (int(v) for v in row), strict=True)), oldest,
                (on - oldest).days if oldest else 0)


def case_parts(session: Session, case_id: int) -> tuple[Case, Loan, Borrower]:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id", rule="case.exists")
    return case, session.get(Loan, case.loan_id), session.get(Borrower, case.borrower_id)  # type: ignore[return-value]


def _history(session: Session, borrower_id: int) -> tuple[ContactAttempt, ...]:
    logged = session.execute(select(ContactLog.loan_id, ContactLog.method, ContactLog.party, ContactLog.outcome,
                                    ContactLog.at)
                             .where(ContactLog.borrower_id == borrower_id, ContactLog.allowed.is_(True),
                                    ContactLog.outcome.is_not(None))).all()
    return sent_history(session, borrower_id) + tuple(
        ContactAttempt(borrower_id=borrower_id, loan_id=lo, method=m, party=p, outcome=o, at=at)
        for lo, m, p, o, at in logged)


def _flags(session: Session, borrower_id: int) -> BorrowerFlags:
    # do-not-contact and collection-stopping agreements have no table yet; complaints do.
    open_complaints = session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.borrower_id == borrower_id, Complaint.status.in_(("open", "in_progress"))))
    return BorrowerFlags(borrower_id, open_complaint=bool(open_complaints))


def send_notice(session: Session, *, cipher: PersonalDataCipher, case_id: int, kind: str, actor: str,
                now: datetime, today: date, channel: str = "letter", firm: str | None = None,
                lawyer: str | None = None) -> OutboxMessage:
    """Queues the case's notice of ``kind`` (policy.yaml notices) after the compliance guard allows it."""
    kinds = policy().notices
    if kind not in kinds:
        raise InvalidInput(f"unknown notice kind {kind!r}; use one of {sorted(kinds)}", field="kind",
                           rule="legal.notice_kind")
    spec = kinds[kind]
    key = f"legal:{kind}:case:{case_id}"
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    if existing is not None:
        return existing  # one notice per case and kind
    case, loan, borrower = case_parts(session, case_id)
    if case.status != "open":
        raise Conflict(f"case {case_id} is {case.status}", field="case_id", rule="case.open")
    due = owed(session, loan.id, today)
    if due.total_fen <= 0:
        raise Conflict(f"loan {loan.loan_no} has nothing overdue on {today}", field="case_id",
                       rule="legal.nothing_owed")
    variables: dict[str, object] = {
        "borrower_name": cipher.decrypt(borrower.name_enc), "loan_no": loan.loan_no,
        "days_overdue": due.days_overdue, "amount_owed_fen": due.total_fen,
        "pay_by": today + timedelta(days=spec.answer_days)}
    declared = catalog().spec(spec.template).variables
    if "firm_name" in declared:
        if not (firm and firm.strip() and lawyer and lawyer.strip()):
            raise InvalidInput("a lawyer's letter names the law firm and the lawyer", field="firm",
                               rule="legal.letter_signed")
        variables.update(firm_name=firm.strip(), lawyer_name=lawyer.strip(), contract_date=loan.disbursed_on,
                         principal_owed_fen=due.by_component["principal"],
                         interest_owed_fen=due.by_component["interest"],
                         penalty_owed_fen=due.by_component["penalty"],
                         fee_owed_fen=due.by_component["fee"] + due.by_component["cost"])
    profile_name = products().product(loan.product_code).compliance_profile
    # Amounts were checked against the ledger when the template rendered (every stated amount is one given);
    # the guard decides the contact itself: freezes, quiet hours, caps.
    request = ContactRequest(case_id=case.id, loan_id=loan.id, borrower_id=borrower.id,
                             borrower_tz=borrower.timezone, method=channel, party="debtor",
                             purpose="legal_notice", at=now)
    decision = check(request, _history(session, borrower.id), _flags(session, borrower.id),
                     packaged_profiles()[profile_name])
    if not decision.allowed and decision.next_allowed_at is None:
        raise Conflict(f"the compliance guard refuses the {kind}: {decision.reason_en} ({decision.reason_zh})",
                       field="case_id", rule=decision.rule)
    message = queue_message(session, cipher=cipher, borrower_id=borrower.id, channel=channel,
                            template=spec.template, variables=variables, dedupe_key=key, loan_id=loan.id,
                            case_id=case.id, profile=profile_name, not_before=decision.next_allowed_at,
                            actor=actor, now=now)
    append_event(session, actor=actor, action="legal.notice_queued", subject_type="case", subject_id=case.id,
                 borrower_id=borrower.id, occurred_at=now,
                 after={"kind": kind, "outbox_id": message.id, "channel": channel, "amount_owed_fen": due.total_fen,
                        "days_overdue": due.days_overdue, "guard": decision.rule or "allowed"})
    return message


def notice_pdf(message: OutboxMessage, cipher: PersonalDataCipher, renderer: LetterRenderer | None = None) -> bytes:
    """The notice as the PDF letter the letter channel prints (same renderer, same inputs)."""
    renderer = renderer or LetterRenderer()
    recipient = cipher.decrypt(message.recipient_enc) if message.recipient_enc else ""
    return renderer.render(sender=catalog().institution.name.get(message.language), recipient=recipient,
                           subject=cipher.decrypt(message.subject_enc), body=cipher.decrypt(message.body_enc),
                           language=message.language, written_at=message.created_at)
