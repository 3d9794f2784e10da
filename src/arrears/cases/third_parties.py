"""Third parties registered for a borrower (family, employer, a reference given at application): the only
people other than the debtor a collector may contact, and only under the compliance profile's conditions."""

from __future__ import annotations

from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.tables import ThirdParty
from arrears.errors import InvalidInput, NotFound
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher

RELATIONS = ("family", "spouse", "employer", "colleague", "friend", "reference", "guarantor", "other")


def register_third_party(session: Session, *, cipher: PersonalDataCipher, borrower_id: int, relation: str,
                         name: str, actor: str, phone: str | None = None, address: str | None = None) -> ThirdParty:
    if session.get(Borrower, borrower_id) is None:
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id", rule="borrower.exists")
    if relation not in RELATIONS:
        raise InvalidInput(f"unknown relation; use one of {list(RELATIONS)}", field="relation",
                           rule="third_party.relation")
    if not name.strip():
        raise InvalidInput("a name is needed", field="name", rule="third_party.name")
    if not (phone or address):
        raise InvalidInput("give a phone number or an address", field="phone", rule="third_party.reachable")
    tp = ThirdParty(borrower_id=borrower_id, relation=relation, name_enc=cipher.encrypt(name.strip()),
                    phone_enc=cipher.encrypt(phone) if phone else None,
                    phone_digest=cipher.digest(phone) if phone else None,
                    address_enc=cipher.encrypt(address) if address else None,
                    address_digest=cipher.digest(address) if address else None)
    session.add(tp)
    session.flush()
    append_event(session, actor=actor, action="third_party.registered", subject_type="borrower",
                 subject_id=borrower_id, borrower_id=borrower_id,
                 after={"third_party_id": tp.id, "relation": relation})
    return tp
