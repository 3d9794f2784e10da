"""The desk tests' world: 小王's overdue 惠民贷 (30,000 yuan at 12% over 12 months, paid until December 2025,
then job loss) with a hardship application he filed in the portal, and the staff who work it. Business date
2026-03-10."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from arrears.agreements import signing
from arrears.auth import service
from arrears.auth.model import Principal, Role
from arrears.contact.tables import OutboxMessage
from arrears.loans.model import LoanTerms
from arrears.loans.tables import Instalment
from arrears.negotiation import hardship, rounds
from arrears.negotiation.affordability import Statement
from arrears.negotiation.plan import Amounts
from arrears.negotiation.tables import HardshipApplication
from arrears.negotiation.terms import Terms
from arrears.products.model import RepaymentMethod
from support import PASSWORD, add_borrower, add_generated_loan

TODAY = date(2026, 3, 10)
NAME = "王小明"
STAFF = ("negotiator", "supervisor", "collector")


def add_wang(s, cipher, *, no: str = "XW-1", borrower_no: str = "B-XW", product: str = "inclusive_loan"):
    b = add_borrower(s, borrower_no, NAME, "330106199201011234", "13900002222", cipher=cipher, region_code="330106")
    method = RepaymentMethod.card_statement if product == "credit_card" else RepaymentMethod.equal_instalment
    terms = LoanTerms(3_000_000, Decimal("0.12"), 12, method, date(2025, 6, 1), date(2025, 7, 1))
    loan = add_generated_loan(s, b, no, terms, product_code=product)
    for i in s.query(Instalment).filter(Instalment.loan_id == loan.id, Instalment.due_on < date(2026, 1, 1)):
        for c in ("principal", "interest"):
            setattr(i, f"{c}_paid_fen", getattr(i, f"{c}_due_fen"))
    s.query(Instalment).filter_by(loan_id=loan.id, due_on=date(2026, 1, 1)).one().penalty_due_fen = 12_000
    s.flush()
    return b, loan


def statement() -> Statement:
    """Income 4,800 yuan; housing 1,500 (within its norm), food 1,200, utilities 200, transport 150."""
    return Statement(incomes={"unemployment_benefit": 180_000, "part_time": 300_000},
                     expenses={"housing": 150_000, "food": 120_000, "utilities": 20_000, "transport": 15_000},
                     dependants=1, region_code="330106", assets={"deposit": 500_000})


def as_borrower(borrower_id: int) -> Principal:
    return Principal(user_id=99, username="xiaowang", display_name=NAME, role=Role.borrower, borrower_id=borrower_id)


def build(db, cipher, *, filed_by: Principal | None = None) -> dict:
    """The loan, 小王's account and his submitted hardship application (filed by him unless ``filed_by``)."""
    CIPHER_OF[id(db)] = cipher
    with db.session() as s:
        b, loan = add_wang(s, cipher)
        service.create_user(s, username="xiaowang", display_name=NAME, password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=b.id)
        app = hardship.file_application(s, cipher, filed_by or as_borrower(b.id), loan_id=loan.id,
                                        statement=statement(), hardship_kind="job_loss",
                                        hardship_since=date(2025, 12, 15), description="公司裁员，正在找工作",
                                        consent=True, today=TODAY)
        s.commit()
        return {"loan": loan.id, "borrower": b.id, "app": app.id, "loan_no": loan.loan_no}


def staff(role: str) -> Principal:
    """The service-side principal of the web user of that name (make_client creates them: username = role)."""
    return Principal(user_id=1, username=role, display_name=role, role=Role(role))


BIG = Terms(36, Decimal("0.06"), waiver=Amounts(penalty=12_000, principal=100_000))  # needs a supervisor


def open_with_offer(db, world: dict, terms: Terms = BIG, *, verify: bool = True, maker: Principal | None = None) -> dict:
    """Opens the negotiation on 小王's application (verified by the supervisor) and makes ``terms`` (by the
    negotiator unless ``maker``)."""
    maker = maker or staff("negotiator")
    with db.session() as s:
        if verify:
            app = s.get(HardshipApplication, world["app"])
            hardship.review_application(s, CIPHER_OF[id(db)], staff("supervisor"), application_id=app.id,
                                        decision="verified", note="", version=app.version)
        neg = rounds.open_negotiation(s, maker, loan_id=world["loan"], today=TODAY, application_id=world["app"])
        offer = rounds.make_offer(s, maker, negotiation_id=neg.id, terms=terms, today=TODAY)
        s.commit()
        return {**world, "neg": neg.id, "offer": offer.id, "offer_status": offer.status, "offer_version": offer.version}


def borrower_accepts(db, world: dict) -> None:
    with db.session() as s:
        rounds.accept(s, as_borrower(world["borrower"]), world["offer"])
        s.commit()


def signing_code(s, cipher, agreement_id: int) -> str:
    msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{agreement_id}:code:%"))
                    .order_by(OutboxMessage.id.desc())).first()
    return re.search(r"\d{6}", cipher.decrypt(msg.body_enc)).group(0)


def borrower_signs(db, cipher, world: dict, agreement_id: int) -> None:
    with db.session() as s:
        out = signing.borrower_sign(s, agreement_id=agreement_id, borrower_id=world["borrower"],
                                    code=signing_code(s, cipher, agreement_id), consent=True, cipher=cipher)
        assert out.signed, out
        s.commit()


CIPHER_OF: dict[int, object] = {}  # db fixture id → the app's cipher, set by ``build``
