"""Shared set-up for the negotiation service and API tests: 小王's overdue inclusive loan and principals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from arrears.auth.model import Principal, Role
from arrears.loans.model import LoanTerms
from arrears.loans.tables import Instalment
from arrears.negotiation.affordability import Statement
from arrears.products.model import RepaymentMethod
from support import CIPHER, add_borrower, add_generated_loan

TODAY = date(2026, 3, 10)
PDF = b"%PDF-1.4\n% termination letter\n%%EOF\n"


def add_wang_loan(s, cipher=CIPHER, no: str = "XW-1", borrower_no: str = "B-XW"):
    """小王: 30,000 元 惠民贷 at 12% over 12 months from 2025-07-01, paid until December, then job loss:
    January to March unpaid (overdue since 2026-01-01), with 120 元 penalty posted."""
    b = add_borrower(s, borrower_no, "王小明", "330106199201011234", "13900002222", cipher=cipher,
                     region_code="330106")
    terms = LoanTerms(3_000_000, Decimal("0.12"), 12, RepaymentMethod.equal_instalment, date(2025, 6, 1),
                      date(2025, 7, 1))
    loan = add_generated_loan(s, b, no, terms, product_code="inclusive_loan")
    for i in s.query(Instalment).filter(Instalment.loan_id == loan.id, Instalment.due_on < date(2026, 1, 1)):
        for c in ("principal", "interest"):
            setattr(i, f"{c}_paid_fen", getattr(i, f"{c}_due_fen"))
    first_unpaid = s.query(Instalment).filter_by(loan_id=loan.id, due_on=date(2026, 1, 1)).one()
    first_unpaid.penalty_due_fen = 12_000
    s.flush()
    return b, loan


def principal(role: Role, name: str | None = None, borrower_id: int | None = None, uid: int = 1) -> Principal:
    return Principal(user_id=uid, username=name or role.value, display_name=name or role.value, role=role,
                     borrower_id=borrower_id)


def wang_statement() -> Statement:
    return Statement(incomes={"unemployment_benefit": 180_000, "part_time": 300_000},
                     expenses={"housing": 150_000, "food": 120_000, "utilities": 20_000, "transport": 15_000},
                     dependants=1, region_code="330106", assets={"deposit": 500_000})
