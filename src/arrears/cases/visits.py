"""Field visits (上门): scheduled with their collectors (two where the loan's compliance profile asks for it,
``policy.yaml`` visits), passed through the guard as a ``visit`` contact at the planned time (quiet hours,
freezes, caps), then reported with outcome, recording, evidence files and whether the community committee
(社区居委会 / 村委会) took part. A refused visit is logged in the contact log and not scheduled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.tables import User
from arrears.cases.contacts import ContactResult, open_case, profile_of, record_outcome, request_contact
from arrears.cases.evidence import EvidenceStore
from arrears.cases.policy import policy
from arrears.cases.tables import ContactLog, FieldVisit
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.loans.tables import Loan
from arrears.privacy import PersonalDataCipher

SUBJECT = "case"


@dataclass(frozen=True)
class VisitResult:
    visit: FieldVisit | None  # None when the guard refused
    contact: ContactResult


def schedule_visit(session: Session, *, cipher: PersonalDataCipher, case_id: int, planned_at: datetime,
                   address_type: str, collector_user_id: int, actor: str,
                   second_collector_user_id: int | None = None, address: str | None = None) -> VisitResult:
    rules = policy().visits
    case = open_case(session, case_id)
    loan = session.get(Loan, case.loan_id)
    assert loan is not None
    if address_type not in rules.address_types:
        raise InvalidInput(f"unknown address type; use one of {list(rules.address_types)}", field="address_type",
                           rule="visit.address_type")
    people = [u for u in (collector_user_id, second_collector_user_id) if u is not None]
    for field, user in zip(("collector_user_id", "second_collector_user_id"), people):
        if session.get(User, user) is None:
            raise NotFound(f"no user {user}", field=field, rule="user.exists")
    need = rules.collectors_for(profile_of(loan).code)
    if len(set(people)) < need:
        raise InvalidInput(f"this loan's profile ({profile_of(loan).code}) needs {need} different collectors on a "
                           f"visit (policy.yaml visits.min_collectors)", field="second_collector_user_id",
                           rule="visit.two_collectors")
    contact = request_contact(session, cipher=cipher, case_id=case.id, method="visit", party="debtor",
                              purpose="collect", at=planned_at, actor=actor, agent_user_id=collector_user_id,
                              to=address)
    if not contact.decision.allowed:
        return VisitResult(None, contact)
    visit = FieldVisit(case_id=case.id, borrower_id=case.borrower_id, loan_id=case.loan_id, planned_at=planned_at,
                       address_type=address_type, collector_user_id=collector_user_id,
                       second_collector_user_id=second_collector_user_id, status="scheduled",
                       contact_id=contact.contact.id, committee_involved=False)
    session.add(visit)
    session.flush()
    append_event(session, actor=actor, action="visit.scheduled", subject_type=SUBJECT, subject_id=case.id,
                 borrower_id=case.borrower_id, after={"visit_id": visit.id, "planned_at": planned_at,
                                                      "address_type": address_type, "collectors": people})
    return VisitResult(visit, contact)


def _scheduled(session: Session, visit_id: int, expected_version: int) -> FieldVisit:
    visit = load_versioned(session, FieldVisit, visit_id, expected_version, "visit")
    if visit.status != "scheduled":
        raise Conflict(f"visit {visit_id} is {visit.status}", field="visit_id", rule="visit.scheduled")
    return visit


def report_visit(session: Session, *, cipher: PersonalDataCipher, store: EvidenceStore, visit_id: int,
                 outcome: str, report: str, recording_ref: str, actor: str, expected_version: int, at: datetime,
                 evidence: list[str] | None = None, committee_involved: bool = False,
                 committee_name: str | None = None) -> FieldVisit:
    """The visit report. On-site collection is recorded (DOMAIN §3), so ``recording_ref`` is required;
    evidence are SHA-256 references of files already in the store."""
    visit = _scheduled(session, visit_id, expected_version)
    if not report or not report.strip():
        raise InvalidInput("write what happened", field="report", rule="visit.report_required")
    if not recording_ref or not recording_ref.strip():
        raise InvalidInput("on-site collection is recorded: give the recording reference", field="recording_ref",
                           rule="visit.recording_required")
    if committee_involved and not (committee_name or "").strip():
        raise InvalidInput("name the community or village committee", field="committee_name",
                           rule="visit.committee_name")
    files = [store.get(ref).ref() for ref in dict.fromkeys(evidence or [])]
    assert visit.contact_id is not None
    record_outcome(session, cipher=cipher, contact_id=visit.contact_id, outcome=outcome, actor=actor,
                   recording_ref=recording_ref)
    visit.status, visit.outcome = "reported", session.get_one(ContactLog, visit.contact_id).outcome
    visit.report_enc, visit.evidence, visit.recording_ref = cipher.encrypt(report.strip()), files, recording_ref
    visit.committee_involved = committee_involved
    visit.committee_name = committee_name.strip() if committee_involved and committee_name else None
    visit.reported_at = at
    flush_versioned(session, "visit")
    append_event(session, actor=actor, action="visit.reported", subject_type=SUBJECT, subject_id=visit.case_id,
                 borrower_id=visit.borrower_id, occurred_at=at,
                 after={"visit_id": visit.id, "outcome": visit.outcome, "evidence": [f["sha256"] for f in files],
                        "committee_involved": committee_involved, "committee_name": visit.committee_name})
    return visit


def cancel_visit(session: Session, *, visit_id: int, reason: str, actor: str, expected_version: int) -> FieldVisit:
    visit = _scheduled(session, visit_id, expected_version)
    if not reason.strip():
        raise InvalidInput("say why", field="reason", rule="visit.reason_required")
    visit.status = "cancelled"
    flush_versioned(session, "visit")
    append_event(session, actor=actor, action="visit.cancelled", subject_type=SUBJECT, subject_id=visit.case_id,
                 borrower_id=visit.borrower_id, after={"visit_id": visit.id}, reason=reason)
    return visit
