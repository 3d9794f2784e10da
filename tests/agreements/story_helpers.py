"""小王 through the API: his loan falls overdue at end of day after he lost his job; a negotiation ends in an
agreement signed with the one-time code from the outbox and countersigned. Shared by the story tests."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from support import PASSWORD, add_borrower, add_generated_loan

from arrears.auth import service as auth
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.service import run_date
from arrears.loans.model import LoanTerms
from arrears.loans.payments import post_payment
from arrears.loans.tables import Instalment
from arrears.products.model import RepaymentMethod

API = "/api/v1"
TODAY = date(2027, 12, 31)  # the engine refuses dates after "today"
OVERDUE_ON = date(2026, 3, 10)
STATEMENT = {"incomes": {"unemployment_benefit": "1800.00", "part_time": 300_000},
             "expenses": {"housing": "1500", "food": "1200", "utilities": "200", "transport": "150"},
             "dependants": 1, "region_code": "330106", "assets": {"deposit": "5000"}}
PDF = b"%PDF-1.4\n% termination letter\n%%EOF\n"


def wang_overdue(db, store, cipher, product_code: str = "inclusive_loan", no: str = "XW-1") -> dict:
    """(``cipher``: the app's, from the test's secret key.) 30,000 元 at 12% over 12 months from 2025-07-01, paid (through the ledger) until December; January to
    March unpaid. End of day on OVERDUE_ON finds him overdue and opens the case."""
    with db.session() as s:
        b = add_borrower(s, f"B-{no}", "王小明", "330106199201011234", "13900002222", cipher=cipher,
                         region_code="330106")
        terms = LoanTerms(3_000_000, Decimal("0.12"), 12, RepaymentMethod.equal_instalment, date(2025, 6, 1),
                          date(2025, 7, 1))
        loan = add_generated_loan(s, b, no, terms, product_code=product_code)
        s.flush()
        for i in s.scalars(select(Instalment).where(Instalment.loan_id == loan.id,
                                                    Instalment.due_on < date(2026, 1, 1))):
            post_payment(s, loan_id=loan.id, amount_fen=i.principal_due_fen + i.interest_due_fen,
                         received_on=i.due_on, idempotency_key=f"{no}-{i.seq}", actor="setup", today=OVERDUE_ON)
        auth.create_user(s, username=f"wang-{no}", display_name="王小明", password=PASSWORD, role="borrower",
                         actor="setup", borrower_id=b.id)
        s.commit()
        ids = {"loan": loan.id, "borrower": b.id, "user": f"wang-{no}".lower()}
    run_date(db.factory, store, OVERDUE_ON, today=TODAY)
    return ids


def outbox_code(db, cipher, agreement_id: int) -> str:
    """The one-time code as the borrower reads it: from the message the outbox holds for them."""
    with db.session() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{agreement_id}:code:%"))
                        .order_by(OutboxMessage.id.desc())).first()
        return re.search(r"\d{6}", cipher.decrypt(msg.body_enc)).group(0)


def sign_and_countersign(c, db, cipher, agreement: dict, me: dict, nego: dict, sup: dict) -> dict:
    r = c.post(f"{API}/agreements/{agreement['id']}/send", headers=nego)
    assert r.status_code == 200 and r.json()["status"] == "sent_for_signature", r.text
    r = c.post(f"{API}/agreements/{agreement['id']}/sign", headers=me,
               json={"code": outbox_code(db, cipher, agreement["id"]), "consent": True})
    assert r.status_code == 200 and r.json()["status"] == "borrower_signed", r.text
    r = c.post(f"{API}/agreements/{agreement['id']}/countersign", headers=nego, json={"version": r.json()["version"]})
    assert r.status_code == 403  # the preparer cannot countersign (and lacks the permission)
    r = c.post(f"{API}/agreements/{agreement['id']}/countersign", headers=sup,
               json={"version": c.get(f"{API}/agreements/{agreement['id']}", headers=sup).json()["version"]})
    assert r.status_code == 200 and r.json()["status"] == "countersigned", r.text
    return r.json()


def simple_agreement(c, db, cipher, loan: int, me: dict, nego: dict, sup: dict, terms: dict) -> dict:
    """Negotiation → an institution offer the borrower accepts → agreement → signed and countersigned."""
    neg = c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={})
    assert neg.status_code == 201, neg.text
    offer = c.post(f"{API}/negotiations/{neg.json()['id']}/offers", headers=nego, json={"terms": terms})
    assert offer.status_code == 201 and offer.json()["status"] == "open", offer.text
    assert c.post(f"{API}/offers/{offer.json()['id']}/accept", headers=me).status_code == 200
    r = c.post(f"{API}/negotiations/{neg.json()['id']}/agreement", headers=nego, json={})
    assert r.status_code == 201, r.text
    return sign_and_countersign(c, db, cipher, r.json(), me, nego, sup)
