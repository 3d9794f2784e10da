"""Negotiation rounds: offers and counter-offers, accept, reject, withdraw, and approval above a limit.

Terms are never edited: each round is a new offer row (the previous live one becomes ``superseded``), and
every action appends a hash-chained ``negotiation`` audit event carrying the plan's SHA-256. Status changes
go through version columns on the offer and its negotiation, so two people acting at once on the same
negotiation cannot both win: the second write is stale and gets a 409 (``Conflict``).

Sides: staff act for the institution; a borrower account acts for itself; staff may record a borrower's
counter-offer (``party="borrower"``) from a call. An offer is accepted or rejected by the other side, and
withdrawn by its own side. An institution offer beyond its maker's authority waits (``pending_approval``)
for someone with enough authority who did not make it (maker-checker).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from arrears.audit.service import append_event
from arrears.auth.model import Principal
from arrears.db.base import utcnow
from arrears.errors import Conflict, Forbidden, InvalidInput, NotFound
from arrears.negotiation.config import policy
from arrears.negotiation.debt import load_context
from arrears.negotiation.hardship import visible_loan
from arrears.negotiation.limits import may_decide, required_authority, term_violations
from arrears.negotiation.serial import plan_digest, plan_to_dict
from arrears.negotiation.tables import HardshipApplication, Negotiation, Offer
from arrears.negotiation.terms import Terms, build_plan
from arrears.products.catalog import catalog

SUBJECT = "negotiation"
LIVE = ("open", "pending_approval")


def side_of(principal: Principal) -> str:
    return "borrower" if principal.self_scoped else "institution"


def get_negotiation(session: Session, principal: Principal, negotiation_id: int) -> Negotiation:
    neg = session.get(Negotiation, negotiation_id)
    if neg is None or not principal.may_see(neg.borrower_id):
        raise NotFound(f"no negotiation {negotiation_id}", field="negotiation_id", rule="negotiation.exists")
    return neg


def get_offer(session: Session, principal: Principal, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or not principal.may_see(offer.borrower_id):
        raise NotFound(f"no offer {offer_id}", field="offer_id", rule="offer.exists")
    return offer


def _event(session: Session, principal: Principal, neg: Negotiation, action: str, after: dict,
           before: dict | None = None) -> None:
    append_event(session, actor=principal.actor, action=action, subject_type=SUBJECT, subject_id=neg.id,
                 borrower_id=neg.borrower_id, before=before, after=after)


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("someone else acted on this negotiation at the same time; reload it",
                       field="version", rule="stale_version") from None


def open_negotiation(session: Session, principal: Principal, *, loan_id: int, today: date,
                     application_id: int | None = None) -> Negotiation:
    loan = visible_loan(session, principal, loan_id)
    if application_id is not None:
        app = session.get(HardshipApplication, application_id)
        if app is None or app.loan_id != loan_id:
            raise NotFound(f"no hardship application {application_id} for loan {loan_id}",
                           field="application_id", rule="hardship.exists")
    if session.scalar(select(Negotiation.id).where(Negotiation.loan_id == loan_id, Negotiation.status == "open")):
        raise Conflict(f"loan {loan_id} already has an open negotiation", field="loan_id", rule="negotiation.open_exists")
    agreed = session.scalar(select(func.count()).select_from(Negotiation).where(
        Negotiation.loan_id == loan_id, Negotiation.status == "agreed")) or 0
    limit = catalog().product(loan.product_code).restructuring.max_renegotiations
    if agreed > limit:  # the first agreement plus ``max_renegotiations`` more (product catalogue)
        raise Conflict(f"loan {loan_id} has had {agreed} agreed plans; the product allows {limit} renegotiations",
                       field="loan_id", rule="negotiation.max_renegotiations")
    neg = Negotiation(loan_id=loan_id, borrower_id=loan.borrower_id, application_id=application_id,
                      status="open", rounds=0, opened_by=principal.actor, opened_on=today)
    session.add(neg)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # another request opened one at the same moment (partial unique index)
        raise Conflict(f"loan {loan_id} already has an open negotiation", field="loan_id",
                       rule="negotiation.open_exists") from None
    _event(session, principal, neg, "negotiation.opened", {"loan_id": loan_id, "application_id": application_id})
    return neg


def make_offer(session: Session, principal: Principal, *, negotiation_id: int, terms: Terms, today: date,
               party: str | None = None, expires_in_hours: int | None = None, counter_to_id: int | None = None,
               now: datetime | None = None) -> Offer:
    neg = get_negotiation(session, principal, negotiation_id)
    side = side_of(principal)
    party = party or side
    if party not in ("institution", "borrower") or (side == "borrower" and party != "borrower"):
        raise Forbidden("a borrower makes offers only for themself", field="party", rule="offer.party")
    if neg.status != "open":
        raise Conflict(f"the negotiation is {neg.status}", field="status", rule="negotiation.not_open")
    if counter_to_id is not None and session.scalar(select(Offer.id).where(
            Offer.id == counter_to_id, Offer.negotiation_id == neg.id)) is None:
        raise InvalidInput(f"offer {counter_to_id} is not part of this negotiation", field="counter_to_id",
                           rule="offer.counter_to_same_negotiation")
    pol = policy()
    hours = expires_in_hours or pol.offers.default_expiry_hours
    if not 1 <= hours <= pol.offers.max_expiry_hours:
        raise InvalidInput(f"an offer expires in 1 to {pol.offers.max_expiry_hours} hours", field="expires_in_hours",
                           rule="offer.expiry_range")
    ctx = load_context(session, neg.loan_id, today)
    violations = term_violations(ctx, terms, pol.options)
    if violations:
        v = violations[0]
        raise InvalidInput(f"{v.message_en} ({v.message_zh})", field=v.field, rule=v.rule,
                           errors=[{"field": x.field, "rule": x.rule, "detail": x.message_en} for x in violations])
    plan = build_plan(ctx, terms, pol.options)
    required = required_authority(ctx, plan, pol.approval)
    if required is None:
        raise InvalidInput("the plan is beyond every approval authority (超出所有审批权限)", field="waiver",
                           rule="approval.beyond_authority")
    waits = party == "institution" and not may_decide(principal.role.value, required, pol.approval)
    for live in session.scalars(select(Offer).where(Offer.negotiation_id == neg.id, Offer.status.in_(LIVE))):
        live.status = "superseded"
    at = now or utcnow()
    seq = (session.scalar(select(func.max(Offer.seq)).where(Offer.negotiation_id == neg.id)) or 0) + 1
    offer = Offer(negotiation_id=neg.id, loan_id=neg.loan_id, borrower_id=neg.borrower_id, seq=seq, party=party,
                  made_by=principal.actor, made_by_role=principal.role.value, counter_to_id=counter_to_id,
                  terms=terms.to_dict(), plan=plan_to_dict(plan), plan_digest=plan_digest(plan),
                  total_to_pay_fen=plan.total_to_pay, waived_fen=plan.waived, required_authority=required,
                  status="pending_approval" if waits else "open", expires_at=at + timedelta(hours=hours),
                  created_at=at)
    session.add(offer)
    neg.rounds += 1
    _flush(session)
    _event(session, principal, neg, "negotiation.offer_made", {
        "offer_id": offer.id, "seq": seq, "party": party, "status": offer.status, "plan_sha256": offer.plan_digest,
        "total_to_pay_fen": offer.total_to_pay_fen, "waived_fen": offer.waived_fen, "required_authority": required,
        "expires_at": offer.expires_at.isoformat(), "counter_to": counter_to_id})
    return offer


def effective_status(offer: Offer, now: datetime) -> str:
    return "expired" if offer.status in LIVE and now >= offer.expires_at else offer.status


def _live(offer: Offer, now: datetime, wanted: str = "open") -> None:
    status = effective_status(offer, now)
    if status == wanted:
        return
    rule = {"expired": "offer.expired", "withdrawn": "offer.withdrawn"}.get(status, "offer.not_" + wanted)
    raise Conflict(f"the offer is {status}", field="status", rule=rule)


def _decide(session: Session, principal: Principal, offer_id: int, action: str, now: datetime | None) -> Offer:
    offer = get_offer(session, principal, offer_id)
    neg = session.get(Negotiation, offer.negotiation_id)
    assert neg is not None
    at = now or utcnow()
    side = side_of(principal)
    if action == "withdrawn":
        if side != offer.party:
            raise Forbidden("only the side that made an offer can withdraw it", field="party", rule="offer.own_side")
        if effective_status(offer, at) != "pending_approval":
            _live(offer, at)
    else:
        _live(offer, at)
        if side == offer.party:
            raise Forbidden("an offer is accepted or rejected by the other side", field="party",
                            rule="offer.other_side")
        if side == "institution" and action == "accepted":
            if offer.made_by == principal.actor:
                raise Forbidden("you recorded this offer; someone else must accept it", field="actor",
                                rule="approval.maker_checker")
            if not may_decide(principal.role.value, offer.required_authority, policy().approval):
                raise Forbidden(f"accepting this offer needs {offer.required_authority} authority", field="role",
                                rule="approval.authority")
    before = {"offer_id": offer.id, "status": offer.status}
    offer.status, offer.decided_by, offer.decided_at = action, principal.actor, at
    if action == "accepted":
        neg.status, neg.accepted_offer_id = "agreed", offer.id
    _touch(neg)
    _flush(session)
    _event(session, principal, neg, f"negotiation.offer_{action}",
           {"offer_id": offer.id, "status": action, "plan_sha256": offer.plan_digest}, before)
    return offer


def _touch(neg: Negotiation) -> None:
    """Marks the negotiation changed so its version is checked and bumped with the offer's: one action per
    negotiation at a time, whichever offer it is on."""
    flag_modified(neg, "status")


def accept(session: Session, principal: Principal, offer_id: int, now: datetime | None = None) -> Offer:
    return _decide(session, principal, offer_id, "accepted", now)


def reject(session: Session, principal: Principal, offer_id: int, now: datetime | None = None) -> Offer:
    return _decide(session, principal, offer_id, "rejected", now)


def withdraw(session: Session, principal: Principal, offer_id: int, now: datetime | None = None) -> Offer:
    return _decide(session, principal, offer_id, "withdrawn", now)


def review_offer(session: Session, principal: Principal, offer_id: int, *, approve: bool,
                 now: datetime | None = None) -> Offer:
    """A checker approves (→ open, the borrower may accept) or declines an offer waiting for approval."""
    offer = get_offer(session, principal, offer_id)
    neg = session.get(Negotiation, offer.negotiation_id)
    assert neg is not None
    at = now or utcnow()
    _live(offer, at, "pending_approval")
    if offer.made_by == principal.actor:
        raise Forbidden("no one approves their own offer", field="actor", rule="approval.maker_checker")
    if not may_decide(principal.role.value, offer.required_authority, policy().approval):
        raise Forbidden(f"this offer needs {offer.required_authority} authority", field="role",
                        rule="approval.authority")
    before = {"offer_id": offer.id, "status": offer.status}
    if approve:
        offer.status, offer.approved_by, offer.approved_at = "open", principal.actor, at
    else:
        offer.status, offer.decided_by, offer.decided_at = "declined", principal.actor, at
    _touch(neg)
    _flush(session)
    _event(session, principal, neg, "negotiation.offer_approved" if approve else "negotiation.offer_declined",
           {"offer_id": offer.id, "status": offer.status, "plan_sha256": offer.plan_digest}, before)
    return offer
