"""What the case page shows, read with a fixed number of queries (no N+1): the case, the borrower (masked by
role), the loan's balances and end-of-day history, the flags, what the compliance guard allows right now on
each channel and why not, the contact log, promises, documents and the timeline (newest first, paged); third
parties, visits and the case's letters and notices come from ``case_reach``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from arrears.agreements.tables import Agreement
from arrears.audit.tables import Event
from arrears.auth.model import Permission, Principal
from arrears.cases import letters
from arrears.cases.contacts import contact_history, profile_of
from arrears.cases.flags import borrower_flags
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.compliance.guard import check
from arrears.compliance.model import BorrowerFlags, ContactHistory, ContactRequest, Decision
from arrears.compliance.policy import Profile
from arrears.delinquency.tables import LoanDelinquency, Transition
from arrears.loans.schemas import borrower_out, loan_detail
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import Level, catalog
from arrears.web.workbench.case_reach import reach_data, third_party_rows

# What the guard panel asks about: the channels a collector uses by hand, for the purposes of collection.
METHODS = ("call", "sms", "email", "letter", "visit", "app")
PURPOSES = ("collect", "negotiate", "remind")
FORM_METHODS = ("call", "sms", "email", "letter", "app")  # a visit is scheduled, not logged (visits.py)
EVENTS_PAGE = 20


@dataclass(frozen=True)
class GuardCell:
    method: str
    purpose: str
    decision: Decision


def guard_panel(case: Case, loan: Loan, borrower: Borrower, at: datetime, history: ContactHistory,
                flags: BorrowerFlags, profile: Profile) -> list[tuple[str, list[GuardCell]]]:
    """The guard's answer, now, for each channel and purpose with the debtor: the same ``check`` the contact
    log runs, with the same history and flags (read once by the caller)."""
    return [(m, [GuardCell(m, p, check(ContactRequest(case_id=case.id, loan_id=loan.id, borrower_id=borrower.id,
                                                      borrower_tz=borrower.timezone, method=m, party="debtor",
                                                      purpose=p, at=at), history, flags, profile))
                 for p in PURPOSES]) for m in METHODS]


def level_names(product_code: str) -> dict[str, Level]:
    """The bucket and class levels of the product's schemes by code (the arrears history shows their names)."""
    cat = catalog()
    product = cat.product(product_code)
    return {level.code: level for scheme in (cat.buckets[product.buckets], cat.classifications[product.classification])
            for level in scheme.levels}


def timeline(session: Session, me: Principal, case: Case, page: int) -> tuple[list[Event], bool]:
    """Audit events of the case (and of its loan for those who read the audit trail), newest first."""
    mine = and_(Event.subject_type == "case", Event.subject_id == str(case.id))
    if me.can(Permission.events_read):
        mine = or_(mine, and_(Event.subject_type == "loan", Event.subject_id == str(case.loan_id)))
    rows = session.scalars(select(Event).where(mine).order_by(Event.occurred_at.desc(), Event.id.desc())
                           .limit(EVENTS_PAGE + 1).offset((page - 1) * EVENTS_PAGE)).all()
    return list(rows[:EVENTS_PAGE]), len(rows) > EVENTS_PAGE


SYSTEM_REASON = re.compile(r"^(strategy rule, )?end of day (\d{4}-\d{2}-\d{2})$")


def system_reason(reason: str | None) -> tuple[str, date] | None:
    """A reason end of day wrote into an event ("end of day D", "strategy rule, end of day D") as (kind, D), so
    that the page says it in its own language; None for anything else (a person's own words stay as written)."""
    found = SYSTEM_REASON.match(reason or "")
    if found is None:
        return None
    return ("strategy" if found.group(1) else "eod", date.fromisoformat(found.group(2)))


def case_page_data(session: Session, me: Principal, cipher: PersonalDataCipher, case: Case, today: date,
                   at: datetime, events_page: int = 1) -> dict:
    loan, borrower = session.get(Loan, case.loan_id), session.get(Borrower, case.borrower_id)
    assert loan is not None and borrower is not None
    instalments = session.scalars(select(Instalment).where(Instalment.loan_id == loan.id)).all()
    notes = me.can(Permission.cases_work) or me.sees_pii_of(borrower.id)
    contacts = session.scalars(select(ContactLog).where(ContactLog.case_id == case.id)
                               .order_by(ContactLog.at.desc(), ContactLog.id.desc()).limit(50)).all()
    events, more_events = timeline(session, me, case, events_page)
    flags = borrower_flags(session, borrower.id)
    lc = lifecycle()
    guard = {}
    if case.status == "open":
        history, profile = contact_history(session, borrower.id), profile_of(loan)
        guard = {"guard": guard_panel(case, loan, borrower, at, history, flags, profile),
                 "third_parties": third_party_rows(session, cipher, me, case, loan, borrower, at, history, flags,
                                                   profile)}
    return {
        "case": case, "loan": loan, "product": catalog().product(loan.product_code),
        "detail": loan_detail(loan, borrower.borrower_no, instalments, today),
        "borrower": borrower_out(borrower, cipher, unmasked=me.sees_pii_of(borrower.id)),
        "state": session.get(LoanDelinquency, loan.id),
        "transitions": session.scalars(select(Transition).where(Transition.loan_id == loan.id)
                                       .order_by(Transition.business_date.desc(), Transition.id.desc())
                                       .limit(30)).all(),
        "flags": flags, "frozen": flags.open_complaint or flags.do_not_contact
        or flags.signed_agreement_with_collection_stop,
        "guard": [], "third_parties": [], **guard, **reach_data(session, cipher, me, case, notes),
        "contacts": [(c, cipher.decrypt(c.note_enc) if notes and c.note_enc else None) for c in contacts],
        "promises": session.scalars(select(PromiseToPay).where(PromiseToPay.case_id == case.id)
                                    .order_by(PromiseToPay.id.desc())).all(),
        "agreements": session.scalars(select(Agreement).where(Agreement.loan_id == loan.id)
                                      .order_by(Agreement.id.desc())).all(),
        "events": events, "events_page": events_page, "more_events": more_events,
        "stage": lc.stage(case.stage), "targets": [lc.stage(code) for code in lc.targets(case.stage)],
        "actions": {s.next_action: s.action for s in lc.stages}, "levels": level_names(loan.product_code),
        "system_reason": system_reason,
        "close_reasons": lc.close_reasons, "stages": {s.code: s for s in lc.stages},
        "form_methods": FORM_METHODS, "purposes": PURPOSES,
        # the letter form: templates the stage allows (with their channels), in the borrower's language first
        "letter_templates": [(t, letters.channels_for(t)) for t in letters.templates_for(case.stage)],
        "letter_language": "en" if (borrower.language or "").lower().startswith("en") else "zh-CN",
    }
