"""A reproducible demo portfolio: fake Chinese borrowers, loans across the products, and months of
payment history shaped by how real borrowers behave.

Behaviours (shares are of loans): pays on time; late then cured; chronically late; hit by a hardship
shock (illness, job loss, business failure) after which payments stop or shrink; wilful non-payer
who stops early; and a few who pay more than due. The same seed gives the same files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from faker import Faker

from arrears.loans.model import LoanTerms
from arrears.loans.schedules import generate_schedule
from arrears.money import fen_to_yuan
from arrears.products.catalog import Catalog
from arrears.products.model import RepaymentMethod

BEHAVIOURS = (  # (name, percent of loans)
    ("on_time", 55), ("late_then_cured", 13), ("chronic_late", 10), ("hardship", 12), ("wilful", 5),
    ("overpayer", 5),
)
HARDSHIPS = ("illness", "job_loss", "business_failure")

# product → (percent of loans, principal range in yuan, annual rates, terms)
PRODUCT_MIX = {
    "consumer_loan": (30, (10_000, 200_000), ("0.0435", "0.0580", "0.0720"), (12, 24, 36)),
    "internet_loan": (25, (1_000, 30_000), ("0.0720", "0.1080", "0.1800"), (3, 6, 12)),
    "inclusive_loan": (20, (5_000, 100_000), ("0.0365", "0.0480"), (12, 24)),
    "micro_business_loan": (15, (50_000, 500_000), ("0.0385", "0.0520"), (12, 24)),
    "credit_card": (10, (2_000, 50_000), ("0.1825",), (24,)),
}


@dataclass
class DemoPortfolio:
    borrowers: list[dict]
    loans: list[dict]
    payments: list[dict]
    behaviours: dict[str, str]  # loan_no → behaviour (and hardship kind)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def generate(n_loans: int, business_date: date, catalog: Catalog, seed: int = 20261123) -> DemoPortfolio:
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    borrowers, loans, payments, behaviours = [], [], [], {}
    n_borrowers = max(1, n_loans * 4 // 5)  # some borrowers hold two loans
    for i in range(n_borrowers):
        id_number = fake.ssn(min_age=20, max_age=65)
        borrowers.append({
            "borrower_no": f"B{i + 1:07d}", "name": fake.name(), "id_number": id_number,
            "phone": fake.phone_number(), "email": f"b{i + 1}@example.cn", "address": fake.address(),
            "region_code": id_number[:6], "timezone": "Asia/Shanghai",
        })
    products = tuple((code, mix[0]) for code, mix in PRODUCT_MIX.items())
    for i in range(n_loans):
        code = _pick(rng, products)
        _, (lo, hi), rates, terms = PRODUCT_MIX[code]
        product = catalog.product(code)
        method = rng.choice(product.repayment_methods)
        term = rng.choice(terms)
        if method == RepaymentMethod.bullet:  # term = months to maturity, the single due date
            term = rng.choice((1, 3, 6))
        months_ago = rng.randint(2, min(18, term + 6))
        disbursed = business_date - timedelta(days=30 * months_ago + rng.randint(0, 27))
        first_due = _add_months(disbursed, term if method == RepaymentMethod.bullet else 1)
        principal_fen = rng.randint(lo, hi) // 100 * 100 * 100
        loan_no = f"L{i + 1:08d}"
        borrower = borrowers[i % n_borrowers]
        loans.append({
            "loan_no": loan_no, "borrower_no": borrower["borrower_no"], "product_code": code,
            "repayment_method": method.value, "principal": str(fen_to_yuan(principal_fen)),
            "annual_rate": rng.choice(rates), "term": str(term), "disbursed_on": disbursed.isoformat(),
            "first_due_on": first_due.isoformat(),
        })
        behaviour = _pick(rng, BEHAVIOURS)
        if behaviour == "hardship":
            behaviour = f"hardship:{rng.choice(HARDSHIPS)}"
        behaviours[loan_no] = behaviour
        terms_ = LoanTerms(principal_fen, Decimal(loans[-1]["annual_rate"]), term, RepaymentMethod(method),
                           disbursed, first_due)
        schedule = generate_schedule(terms_, product)
        payments += _history(rng, loan_no, behaviour, schedule, disbursed, business_date)
    return DemoPortfolio(borrowers, loans, payments, behaviours)


def _history(rng: random.Random, loan_no: str, behaviour: str, schedule, disbursed: date,  # noqa: ANN001
             business_date: date) -> list[dict]:
    """Payments for the instalments due so far, shaped by the behaviour."""
    due = [s for s in schedule if s.due_on <= business_date]
    stop_at = {"wilful": rng.randint(0, 2), "late_then_cured": len(due) + 1}.get(behaviour.split(":")[0], len(due) + 1)
    if behaviour.startswith("hardship"):
        stop_at = rng.randint(max(1, len(due) - 6), max(1, len(due)))
    missed_then_cured = rng.randint(1, max(1, len(due))) if behaviour == "late_then_cured" else -1
    out = []
    for k, inst in enumerate(due, start=1):
        if k > stop_at:
            if behaviour.startswith("hardship") and rng.randrange(100) < 30:  # token partial payments
                amount = inst.total_fen // rng.randint(4, 10)
                out.append(_payment(loan_no, k, amount, inst.due_on + timedelta(days=rng.randint(5, 25)),
                                    disbursed, business_date))
            continue
        if behaviour == "chronic_late":
            when = inst.due_on + timedelta(days=rng.randint(5, 25))
        elif k == missed_then_cured:
            when = inst.due_on + timedelta(days=rng.randint(15, 50))
        else:
            when = inst.due_on - timedelta(days=rng.randint(0, 3))
        amount = inst.total_fen
        if behaviour == "overpayer" and rng.randrange(100) < 40:
            amount += rng.randint(1, 50) * 1000
        out.append(_payment(loan_no, k, amount, when, disbursed, business_date))
    return [p for p in out if p is not None]


def _payment(loan_no: str, k: int, amount_fen: int, when: date, disbursed: date, business_date: date) -> dict | None:
    when = max(when, disbursed + timedelta(days=1))
    if when > business_date or amount_fen <= 0:
        return None
    return {"loan_no": loan_no, "amount": str(fen_to_yuan(amount_fen)), "received_on": when.isoformat(),
            "idempotency_key": f"demo:{loan_no}:{k}", "channel": "bank_transfer", "external_ref": ""}
