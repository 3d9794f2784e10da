"""What the case page shows about reaching the borrower beyond the debtor's own channels: third parties registered
for the borrower with what the compliance guard allows now for each, field visits with their collectors, and
the letters and notices the outbox holds for the case — each a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.auth.model import Permission, Principal, Role, permissions_for
from arrears.auth.tables import User
from arrears.cases.policy import policy
from arrears.cases.tables import Case, FieldVisit, ThirdParty
from arrears.cases.third_parties import RELATIONS
from arrears.compliance.guard import check
from arrears.compliance.model import BorrowerFlags, ContactHistory, ContactRequest, Decision
from arrears.compliance.policy import Profile
from arrears.contact.tables import OutboxMessage
from arrears.loans.schemas import mask_address
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher, mask_name, mask_phone

TP_PURPOSES = ("locate", "pass_message")  # what a third party may be contacted for (profiles allow a subset)
TP_METHOD = "call"  # the guard's answer for each third party is shown for a call; the form checks any channel
MESSAGES_SHOWN = 50
WORKERS = tuple(r.value for r in Role if Permission.cases_work in permissions_for(r))


@dataclass(frozen=True)
class ThirdPartyRow:
    id: int
    relation: str
    name: str
    phone: str | None
    address: str | None
    decisions: list[tuple[str, Decision]]  # (purpose, the guard's answer now for a call)


def third_party_rows(session: Session, cipher: PersonalDataCipher, me: Principal, case: Case, loan: Loan,
                     borrower: Borrower, at: datetime, history: ContactHistory, flags: BorrowerFlags,
                     profile: Profile) -> list[ThirdPartyRow]:
    """The borrower's third parties (masked unless the role sees the borrower's personal data), each with the
    guard's answer now: the same ``check`` the contact form runs, on the history and flags read once."""
    unmasked = me.sees_pii_of(borrower.id)

    def shown(blob: bytes | None, mask) -> str | None:
        if blob is None:
            return None
        text = cipher.decrypt(blob)
        return text if unmasked else mask(text)

    rows = []
    for tp in session.scalars(select(ThirdParty).where(ThirdParty.borrower_id == borrower.id)
                              .order_by(ThirdParty.id).limit(50)):
        decisions = [(p, check(ContactRequest(case_id=case.id, loan_id=loan.id, borrower_id=borrower.id,
                                              borrower_tz=borrower.timezone, method=TP_METHOD, party="third_party",
                                              purpose=p, at=at, third_party_id=f"tp:{tp.id}"),
                               history, flags, profile)) for p in TP_PURPOSES]
        rows.append(ThirdPartyRow(tp.id, tp.relation, shown(tp.name_enc, mask_name) or "",
                                  shown(tp.phone_enc, mask_phone), shown(tp.address_enc, mask_address), decisions))
    return rows


def visit_partners(session: Session, me: Principal) -> list[User]:
    """Who may go on a visit with the signed-in collector: active staff who work cases, not the user."""
    return list(session.scalars(select(User).where(User.active.is_(True), User.role.in_(WORKERS),
                                                   User.id != me.user_id).order_by(User.username).limit(200)))


def reach_data(session: Session, cipher: PersonalDataCipher, me: Principal, case: Case, notes: bool) -> dict:
    """Visits (with their collectors' names and, for those who read notes, the report) and the case's messages
    (the subject for those who read notes; recipients are never shown)."""
    visits = session.scalars(select(FieldVisit).where(FieldVisit.case_id == case.id)
                             .order_by(FieldVisit.planned_at.desc())).all()
    ids = {u for v in visits for u in (v.collector_user_id, v.second_collector_user_id) if u is not None}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                               .order_by(OutboxMessage.id.desc()).limit(MESSAGES_SHOWN)).all()
    return {
        "visits": visits, "collector_names": names,
        "visit_reports": {v.id: cipher.decrypt(v.report_enc) for v in visits if notes and v.report_enc},
        "messages": [(m, cipher.decrypt(m.subject_enc) if notes else None) for m in messages],
        "relations": RELATIONS, "tp_purposes": TP_PURPOSES, "address_types": policy().visits.address_types,
        "partners": visit_partners(session, me) if me.can(Permission.cases_work) and case.status == "open" else [],
    }
