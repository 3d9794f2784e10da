"""What the agreement engine takes from a concluded negotiation: the accepted offer and its Plan, checked
against the offer row's digest and the digest the hash-chained history recorded when the offer was made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.errors import Conflict, NotFound
from arrears.negotiation.plan import Plan
from arrears.negotiation.rounds import SUBJECT
from arrears.negotiation.serial import plan_digest, plan_from_dict
from arrears.negotiation.tables import Negotiation, Offer


@dataclass(frozen=True)
class AcceptedOffer:
    """What the agreement engine needs from a concluded negotiation."""

    negotiation_id: int
    offer_id: int
    loan_id: int
    borrower_id: int
    plan: Plan
    plan_sha256: str
    party: str
    made_by: str
    accepted_by: str
    accepted_at: datetime
    approved_by: str | None


def accepted_offer(session: Session, negotiation_id: int) -> AcceptedOffer:
    """The accepted offer of an agreed negotiation with its Plan (re-checked, digest verified)."""
    neg = session.get(Negotiation, negotiation_id)
    if neg is None:
        raise NotFound(f"no negotiation {negotiation_id}", field="negotiation_id", rule="negotiation.exists")
    if neg.status != "agreed" or neg.accepted_offer_id is None:
        raise Conflict(f"negotiation {negotiation_id} has no accepted offer", field="status",
                       rule="negotiation.not_agreed")
    offer = session.get(Offer, neg.accepted_offer_id)
    assert offer is not None and offer.decided_by is not None and offer.decided_at is not None
    plan = plan_from_dict(offer.plan)
    # The plan must match both its row's digest and the digest the hash-chained history recorded when the
    # offer was made: an edited row (with its digest recomputed) still fails against the chain.
    made = [e.after for e in session.scalars(select(Event).where(
        Event.subject_type == SUBJECT, Event.subject_id == str(neg.id), Event.action == "negotiation.offer_made"))
            if e.after and e.after.get("offer_id") == offer.id]
    digest = plan_digest(plan)
    if digest != offer.plan_digest or [m.get("plan_sha256") for m in made] != [digest]:
        raise Conflict("the stored plan does not match its recorded digest (altered)", field="plan",
                       rule="offer.integrity")
    return AcceptedOffer(neg.id, offer.id, offer.loan_id, offer.borrower_id, plan, offer.plan_digest, offer.party,
                         offer.made_by, offer.decided_by, offer.decided_at, offer.approved_by)
