"""The borrower portal's page tests: two borrowers (王小明 and 李小红) with one overdue loan each, after an end of day
on the business date, and a client that signs a borrower in with the one-time code read from the outbox."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from arrears.auth.model import Principal, Role
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.loans.model import LoanTerms
from arrears.negotiation import rounds
from arrears.negotiation.terms import Terms
from arrears.privacy import PersonalDataCipher
from arrears.products.model import RepaymentMethod
from support import add_borrower, add_generated_loan

TODAY = date(2026, 6, 10)
TERMS = LoanTerms(1_200_000, Decimal("0.0435"), 12, RepaymentMethod.equal_instalment, date(2026, 1, 5),
                  date(2026, 2, 5))
PHONES = {"mine": "13800000001", "other": "13800000002"}
NEGOTIATOR = Principal(user_id=9001, username="negotiator1", display_name="谈判员", role=Role.negotiator)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/web/portal/" in str(item.fspath):
            item.add_marker(pytest.mark.business_date(TODAY.isoformat()))


class Portal:
    """A WebClient with the two borrowers' ids and the ways to act as them."""

    def __init__(self, client, db, cipher: PersonalDataCipher, ids: dict) -> None:
        self.client, self.db, self.cipher, self.ids = client, db, cipher, ids

    def __getattr__(self, name):  # get, post … of the client
        return getattr(self.client, name)

    def last_code(self, borrower_id: int) -> str:
        with self.db.session() as s:
            msg = s.scalars(select(OutboxMessage).where(OutboxMessage.borrower_id == borrower_id)
                            .order_by(OutboxMessage.id.desc())).first()
            return re.search(r"\d{6}", self.cipher.decrypt(msg.body_enc)).group(0)

    def sign_in(self, who: str = "mine"):
        """Signs the borrower in with a code sent to their phone, as a person would."""
        r = self.client.post("/portal/login", data={"identifier": PHONES[who]})
        assert r.status_code == 200, r.text
        r = self.client.post("/portal/login/code", data={"identifier": PHONES[who],
                                                        "code": self.last_code(self.ids[f"{who}_borrower"])},
                             follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/portal", r.text
        return r

    def staff_offer(self, who: str = "mine", periods: int = 12) -> int:
        """A negotiator opens a negotiation on the borrower's loan and offers a plan (through the services)."""
        with self.db.session() as s:
            neg = rounds.open_negotiation(s, NEGOTIATOR, loan_id=self.ids[who], today=TODAY)
            offer = rounds.make_offer(s, NEGOTIATOR, negotiation_id=neg.id, today=TODAY,
                                      terms=Terms(periods, Decimal("0.0435")))
            s.commit()
            return offer.id


@pytest.fixture
def portal(db, secret_key, make_client, tmp_path):
    cipher = PersonalDataCipher(secret_key)
    with db.session() as s:
        mine = add_borrower(s, "B0001", "王小明", phone=PHONES["mine"], cipher=cipher)
        other = add_borrower(s, "B0002", "李小红", id_number="110101199003076632", phone=PHONES["other"], cipher=cipher)
        ids = {"mine": add_generated_loan(s, mine, "L1", TERMS).id, "other": add_generated_loan(s, other, "L2", TERMS).id,
               "mine_borrower": mine.id, "other_borrower": other.id}
        s.commit()
    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), TODAY, today=TODAY)
    with make_client("supervisor") as client:
        yield Portal(client, db, cipher, ids)
