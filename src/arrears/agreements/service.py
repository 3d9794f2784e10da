"""Agreement use cases: prepare (create), countersign (executes), terminate; signing is in ``signing.py``. Each
takes the caller's session, never commits, and appends an ``agreement`` event; the terms' and document's
SHA-256 are in the chain from the first event on."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.agreements import documents, render, terms
from arrears.agreements.execution import execute
from arrears.agreements.policy import policy
from arrears.agreements.tables import LIVE, Agreement
from arrears.audit.service import append_event
from arrears.cases.service import close_case
from arrears.cases.tables import Case
from arrears.contact.templates import catalog as template_catalog
from arrears.db.base import utcnow
from arrears.errors import Conflict, Forbidden, InvalidInput, NotFound
from arrears.ledger.service import savepoint
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation.plan import Plan
from arrears.privacy import PersonalDataCipher, mask_id_number, mask_phone

SUBJECT = "agreement"


def record_event(session: Session, a: Agreement, action: str, actor: str, after: dict, before: dict | None = None,
           reason: str = "") -> None:
    append_event(session, actor=actor, action=action, subject_type=SUBJECT, subject_id=a.id,
                 borrower_id=a.borrower_id, before=before, after={"status": a.status, **after}, reason=reason)


def get_agreement(session: Session, agreement_id: int) -> Agreement:
    a = session.get(Agreement, agreement_id)
    if a is None:
        raise NotFound(f"no agreement {agreement_id}", field="agreement_id", rule="agreement.exists")
    return a


def expect_status(a: Agreement, *statuses: str) -> None:
    if a.status not in statuses:
        raise Conflict(f"agreement {a.id} is {a.status}; this needs {' or '.join(statuses)}", field="status",
                       rule="agreement.status")


def create_agreement(session: Session, *, plan: Plan, loan_id: int, prepared_by: str, cipher: PersonalDataCipher,
                     language: str | None = None, signing_method: str = "portal") -> Agreement:
    """A draft agreement for an agreed plan: terms stored as canonical JSON, the PDF rendered and stored by
    its SHA-256, both digests in the first event of the agreement's chain."""
    try:
        plan.check()
    except ValueError as exc:
        raise InvalidInput(str(exc), field="plan", rule="plan.restates_debt") from None
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound(f"no loan {loan_id}", field="loan_id", rule="loan.exists")
    if plan.loan_id != loan_id:
        raise InvalidInput(f"the plan is for loan {plan.loan_id}, not {loan_id}", field="plan.loan_id",
                           rule="agreement.plan_loan")
    if loan.status != "active":
        raise Conflict(f"loan {loan.loan_no} is {loan.status}", field="loan_id", rule="loan.active")
    if not plan.schedule:
        raise InvalidInput("the plan has no instalments", field="plan.schedule", rule="agreement.schedule")
    pol = policy()
    rule = pol.product(loan.product_code)
    if signing_method not in ("portal", "oral"):
        raise InvalidInput("must be portal or oral", field="signing_method", rule="agreement.signing_method")
    if signing_method == "oral" and not rule.oral_allowed:
        raise InvalidInput(f"{loan.product_code} agreements must be signed in writing", field="signing_method",
                           rule="agreement.oral_not_allowed")
    earlier = session.scalar(select(func.count()).select_from(Agreement).where(
        Agreement.loan_id == loan_id, Agreement.executed_on.is_not(None))) or 0
    if earlier >= pol.renegotiation.max_agreements_per_loan:
        raise Conflict(f"loan {loan.loan_no} already had {earlier} agreements (limit "
                       f"{pol.renegotiation.max_agreements_per_loan}); escalate instead", field="loan_id",
                       rule="agreement.renegotiation_limit")
    if session.scalar(select(Agreement.id).where(Agreement.loan_id == loan_id, Agreement.status.in_(LIVE))):
        raise Conflict(f"loan {loan.loan_no} already has an agreement in progress", field="loan_id",
                       rule="agreement.one_live")
    borrower = session.get(Borrower, loan.borrower_id)
    terms_json = terms.canonical(plan)
    a = Agreement(loan_id=loan_id, borrower_id=loan.borrower_id, product_code=loan.product_code, status="draft",
                  language=language or borrower.language, plan_kind=plan.kind, as_of=plan.as_of,
                  terms_json=terms_json, terms_sha256=terms.digest(terms_json), document_sha256="",
                  prepared_by=prepared_by, signing_method=signing_method,
                  waiver_conditional=plan.waiver_conditional, renegotiation_no=earlier)
    try:  # two officers preparing at once: one wins on the partial unique index
        with savepoint(session):
            session.add(a)
            session.flush()
    except IntegrityError:
        raise Conflict(f"loan {loan.loan_no} already has an agreement in progress", field="loan_id",
                       rule="agreement.one_live") from None
    a.document_sha256 = documents.put(session, agreement_pdf(a, plan, loan, borrower, cipher))
    session.flush()
    record_event(session, a, "agreement.created", prepared_by, {
        "loan_id": loan_id, "plan_kind": plan.kind, "terms_sha256": a.terms_sha256,
        "document_sha256": a.document_sha256, "signing_method": signing_method, "prepared_by": prepared_by})
    return a


def number(a: Agreement) -> str:
    return f"HK-{a.as_of:%Y%m%d}-{a.id:06d}"


def agreement_pdf(a: Agreement, plan: Plan, loan: Loan, borrower: Borrower, cipher: PersonalDataCipher) -> bytes:
    pol, lang = policy(), "zh" if a.language.startswith("zh") else "en"
    clause = pol.default_clause
    data = render.agreement_data(
        plan=plan, number=number(a), language=a.language,
        institution=template_catalog().institution.name.get(lang),
        borrower_name=cipher.decrypt(borrower.name_enc),
        id_masked=mask_id_number(cipher.decrypt(borrower.id_number_enc)),
        phone_masked=mask_phone(cipher.decrypt(borrower.phone_enc)), loan_no=loan.loan_no,
        dispute=getattr(pol.dispute, lang), grace_days=clause.grace_days,
        missed_instalments=clause.missed_instalments, days_late=clause.days_late)
    return render.render_pdf(render.AGREEMENT, data, a.language)


def countersign(session: Session, *, agreement_id: int, officer: str, business_date: date,
                expected_version: int | None = None) -> Agreement:
    """An authorised officer other than the preparer countersigns; the agreement comes into force and is
    executed in the same transaction (ledger, schedule, restructured flag, collection stop)."""
    a = get_agreement(session, agreement_id)
    if expected_version is not None and a.version != expected_version:
        raise Conflict(f"agreement {a.id} changed (version {a.version})", field="version", rule="version.stale")
    expect_status(a, "borrower_signed")
    if officer == a.prepared_by:
        raise Forbidden("the officer who prepared the agreement cannot countersign it (maker-checker)",
                        field="officer", rule="agreement.maker_checker")
    loan = session.get(Loan, a.loan_id)
    plan = terms.plan_from_json(a.terms_json)
    if terms.digest(a.terms_json) != a.terms_sha256:
        raise Conflict("the stored terms do not match their digest; run `arrears audit verify`",
                       field="terms", rule="agreement.terms_altered")
    done = execute(session, loan=loan, plan=plan, business_date=business_date, actor=officer, agreement_id=a.id)
    a.status, a.countersigned_by, a.countersigned_at = "countersigned", officer, utcnow()
    a.executed_on, a.seq_from, a.seq_to = business_date, done["seq_from"], done["seq_to"]
    a.waiver_entry_id = done["waiver_entry_id"]
    a.stops_collection = policy().product(a.product_code).stops_collection
    try:  # two checkers at once: the second loses on the agreement's version
        session.flush()
    except StaleDataError:
        raise Conflict(f"agreement {agreement_id} was changed by someone else; reload and try again",
                       field="version", rule="version.stale") from None
    record_event(session, a, "agreement.countersigned", officer, {**done, "stops_collection": a.stops_collection},
           before={"status": "borrower_signed"})
    case = session.scalar(select(Case).where(Case.loan_id == a.loan_id, Case.status == "open"))
    if case is not None:  # the agreement now governs the loan: its collection case closes (docs/cases.md)
        close_case(session, case_id=case.id, close_reason="agreement_in_force", actor=officer,
                   expected_version=case.version, today=business_date, reason=f"agreement {number(a)} in force")
    return a


def terminate(session: Session, *, agreement_id: int, actor: str, reason: str, business_date: date,
              renegotiated: bool = False) -> Agreement:
    """Ends an agreement not yet in force (withdrawn: ``terminated``) or ends one in force because the parties
    agreed a new plan (``renegotiated``; the new agreement is prepared next)."""
    a = get_agreement(session, agreement_id)
    if not reason.strip():
        raise InvalidInput("give the reason", field="reason", rule="agreement.reason_required")
    if renegotiated:
        expect_status(a, "countersigned")
    else:
        expect_status(a, "draft", "sent_for_signature", "borrower_signed")
    before = a.status
    a.status = "renegotiated" if renegotiated else "terminated"
    a.ended_on, a.end_reason, a.stops_collection = business_date, reason.strip()[:200], False
    session.flush()
    record_event(session, a, f"agreement.{a.status}", actor, {"ended_on": business_date.isoformat()},
           before={"status": before}, reason=reason.strip()[:300])
    return a


def collection_stopped_borrowers(session: Session) -> set[int]:
    """Borrowers with an agreement in force whose product stops collection contact (e.g. a credit-card
    personalised instalment). The compliance guard's ``collection_stopped`` reads this (or the SQL below)."""
    return set(session.scalars(select(Agreement.borrower_id).where(COLLECTION_STOPPED)))


COLLECTION_STOPPED = (Agreement.status == "countersigned") & Agreement.stops_collection.is_(True)
