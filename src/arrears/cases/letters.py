"""A letter or notice a collector sends by hand from a case: a template the case's stage allows (``policy.yaml``
letters), filled from the loan's last end-of-day state (and the open promise for a confirmation), previewed,
then decided by the compliance guard with the borrower's real history and flags (as a contact) and queued in
the outbox (``contact.outbox.queue_message``: content rules, encryption, the worker sends it) — the path the
automatic notices take. A refusal is logged in the contact log with its rule (the compliance report counts
it) and nothing is queued; both outcomes are audit events on the case.

One message per case, template, channel and business date (its dedupe key): sending it again returns the one
already queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.contacts import SUBJECT, contact_history, open_case, profile_of
from arrears.cases.flags import borrower_flags
from arrears.cases.policy import policy
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.compliance.guard import check
from arrears.compliance.model import ContactRequest, Decision
from arrears.contact.outbox import queue_message
from arrears.contact.tables import OutboxMessage
from arrears.contact.templates import Rendered, catalog, normalise_language
from arrears.delinquency.tables import LoanDelinquency
from arrears.errors import Conflict, InvalidInput
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher, mask_name


@dataclass(frozen=True)
class LetterResult:
    decision: Decision
    message: OutboxMessage | None  # None when the guard refused
    already: bool = False  # the same letter was queued earlier today (nothing new was done)


def templates_for(stage: str) -> tuple[str, ...]:
    """The templates a collector may send by hand at ``stage`` (policy), those the template catalogue has."""
    known = catalog().specs
    return tuple(t for t in policy().letters.by_stage.get(stage, ()) if t in known)


def channels_for(template: str) -> tuple[str, ...]:
    return tuple(catalog().spec(template).channels)


def _parts(session: Session, case_id: int, template: str, channel: str) -> tuple[Case, Loan, Borrower]:
    case = open_case(session, case_id)
    if template not in templates_for(case.stage):
        raise InvalidInput(f"template {template!r} is not sent by hand at stage {case.stage}; use one of "
                           f"{list(templates_for(case.stage))}", field="template", rule="letter.stage")
    if channel not in channels_for(template):
        raise InvalidInput(f"template {template!r} goes by {list(channels_for(template))}", field="channel",
                           rule="template.channel")
    loan, borrower = session.get(Loan, case.loan_id), session.get(Borrower, case.borrower_id)
    assert loan is not None and borrower is not None
    return case, loan, borrower


def letter_variables(session: Session, case: Case, loan: Loan, name: str, template: str) -> tuple[dict, date]:
    """The template's variables from the ledger as end of day left it (the amounts the content rules accept)
    and that state's business date; ``name`` is the borrower's name as it should appear (masked in a
    preview for a role that does not see personal data)."""
    state = session.get(LoanDelinquency, loan.id)
    if state is None:
        raise Conflict(f"loan {loan.loan_no} has no end-of-day state yet", field="template", rule="letter.no_state")
    on = state.business_date
    facts: dict[str, object] = {
        "borrower_name": name, "loan_no": loan.loan_no, "days_overdue": state.dpd,
        "due_on": on - timedelta(days=state.dpd), "penalty_fen": state.overdue_penalty_fen,
        "amount_owed_fen": state.overdue_principal_fen + state.overdue_interest_fen + state.overdue_fee_fen
        + state.overdue_penalty_fen}
    wanted = catalog().spec(template).variables
    if {"promised_amount_fen", "promised_on"} & set(wanted):
        promise = session.scalars(select(PromiseToPay).where(PromiseToPay.case_id == case.id,
                                                             PromiseToPay.status == "open")
                                  .order_by(PromiseToPay.id.desc())).first()
        if promise is None:
            raise Conflict("the case has no open promise to pay to confirm", field="template",
                           rule="letter.no_promise")
        facts.update(promised_amount_fen=promise.amount_fen, promised_on=promise.due_on)
    missing = sorted(set(wanted) - set(facts))
    if missing:
        raise InvalidInput(f"template {template!r} needs {missing}, which a case does not give", field="template",
                           rule="letter.variables")
    return {v: facts[v] for v in wanted}, on


def preview_letter(session: Session, *, cipher: PersonalDataCipher, case_id: int, template: str, channel: str,
                   language: str | None, unmasked: bool) -> Rendered:
    """The subject and body as they would be sent (content rules applied), the name masked unless ``unmasked``."""
    case, loan, borrower = _parts(session, case_id, template, channel)
    name = cipher.decrypt(borrower.name_enc)
    variables, _ = letter_variables(session, case, loan, name if unmasked else mask_name(name), template)
    return catalog().render(template, language=normalise_language(language or borrower.language), channel=channel,
                            variables=variables)


def send_letter(session: Session, *, cipher: PersonalDataCipher, case_id: int, template: str, channel: str,
                language: str | None, at: datetime, actor: str, agent_user_id: int | None = None) -> LetterResult:
    """Guards and queues one letter or notice. A refusal is returned, not raised, so that the caller commits the
    refused attempt (contact log and audit event) and then answers with the rule."""
    case, loan, borrower = _parts(session, case_id, template, channel)
    lang = normalise_language(language or borrower.language)
    variables, on = letter_variables(session, case, loan, cipher.decrypt(borrower.name_enc), template)
    key = f"case:{case.id}:letter:{template}:{channel}:{on.isoformat()}"
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    if existing is not None:
        return LetterResult(Decision.allow(), existing, already=True)
    purpose = catalog().spec(template).purpose
    request = ContactRequest(case_id=case.id, loan_id=loan.id, borrower_id=borrower.id, borrower_tz=borrower.timezone,
                             method=channel, party="debtor", purpose=purpose, at=at)
    profile = profile_of(loan)
    decision = check(request, contact_history(session, borrower.id), borrower_flags(session, borrower.id), profile)
    after = {"template": template, "channel": channel, "language": lang, "purpose": str(purpose),
             "allowed": decision.allowed, "rule": decision.rule, "broken": list(decision.broken),
             "next_allowed_at": decision.next_allowed_at}
    if not decision.allowed:
        row = ContactLog(case_id=case.id, borrower_id=borrower.id, loan_id=loan.id, at=at, method=channel,
                         party="debtor", purpose=str(purpose), allowed=False, refused_rule=decision.rule,
                         agent_user_id=agent_user_id)
        session.add(row)
        session.flush()
        append_event(session, actor=actor, action="letter.refused", subject_type=SUBJECT, subject_id=case.id,
                     borrower_id=borrower.id, after={**after, "contact_id": row.id}, occurred_at=at)
        return LetterResult(decision, None)
    message = queue_message(session, cipher=cipher, borrower_id=borrower.id, channel=channel, template=template,
                            variables=variables, dedupe_key=key, language=lang, loan_id=loan.id, case_id=case.id,
                            profile=profile.code, actor=actor, now=at)
    append_event(session, actor=actor, action="letter.queued", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=borrower.id, after={**after, "outbox_id": message.id}, occurred_at=at)
    return LetterResult(decision, message)
