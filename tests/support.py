"""Factories shared by the test modules: borrowers with encrypted personal data, and loans booked
through ``arrears.ledger.service.book_loan`` with a hand-made or a generated schedule.

Import as ``support`` (tests/ is on sys.path). Everything here takes the caller's session, flushes
and never commits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from arrears.ledger.service import book_loan
from arrears.loans.model import LoanTerms, ScheduledInstalment
from arrears.loans.schedules import generate_schedule
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog

PASSWORD = "correct horse battery"  # every test user's password
CIPHER = PersonalDataCipher(bytes(32))  # web tests pass PersonalDataCipher(secret_key) instead
DISBURSED = date(2024, 1, 1)


def add_borrower(s, no: str = "B1", name: str = "张三", id_number: str = "110101199003071234",
                 phone: str = "13812345678", *, cipher: PersonalDataCipher = CIPHER, email: str | None = None,
                 address: str | None = None, region_code: str = "") -> Borrower:
    extra = {k: cipher.encrypt(v) for k, v in (("email_enc", email), ("address_enc", address)) if v is not None}
    b = Borrower(borrower_no=no, name_enc=cipher.encrypt(name), id_number_enc=cipher.encrypt(id_number),
                 id_number_digest=cipher.digest(id_number), phone_enc=cipher.encrypt(phone),
                 phone_digest=cipher.digest(phone), region_code=region_code, **extra)
    s.add(b)
    s.flush()
    return b


def schedule(n: int = 3, principal: int = 300_000, interest: int = 2_500, fee: int = 0) -> list[ScheduledInstalment]:
    """``n`` monthly instalments due on the 1st from 2024-02-01; the last one takes the principal's remainder."""
    part = principal // n
    return [ScheduledInstalment(k, date(2024, 1 + k, 1), part + (principal - part * n if k == n else 0),
                                interest, fee) for k in range(1, n + 1)]


def add_loan(s, borrower: Borrower, no: str = "L1", sched: list[ScheduledInstalment] | None = None,
             **kw) -> Loan:
    """Books a consumer loan at 12% over ``sched`` (default: ``schedule()``); ``kw`` override book_loan's
    arguments, so principal, term and first due date follow the schedule unless given."""
    sched = sched or schedule()
    args = {"borrower_id": borrower.id, "loan_no": no, "product_code": "consumer_loan",
            "method": "equal_instalment", "principal_fen": sum(x.principal_fen for x in sched),
            "annual_rate": Decimal("0.12"), "term": len(sched), "disbursed_on": DISBURSED,
            "first_due_on": sched[0].due_on, "schedule": sched, "actor": "tester"}
    return book_loan(s, **{**args, **kw})


def add_small_loan(s, borrower: Borrower, no: str = "L1") -> Loan:
    """1,200.00 yuan at 12% from 2026-01-05 in two instalments of 609.00 yuan, due 2026-02-05 and 03-05."""
    return add_loan(s, borrower, no, [ScheduledInstalment(1, date(2026, 2, 5), 59_700, 1_200),
                                      ScheduledInstalment(2, date(2026, 3, 5), 60_300, 600)],
                    disbursed_on=date(2026, 1, 5), actor="setup")


def add_generated_loan(s, borrower: Borrower, no: str, terms: LoanTerms, product_code: str = "consumer_loan",
                       actor: str = "setup") -> Loan:
    """Books a loan whose schedule ``generate_schedule`` computes from ``terms`` and the product."""
    return add_loan(s, borrower, no, generate_schedule(terms, catalog().product(product_code)),
                    product_code=product_code, method=str(terms.method), principal_fen=terms.principal_fen,
                    annual_rate=terms.annual_rate, term=terms.term, disbursed_on=terms.disbursed_on,
                    first_due_on=terms.first_due_on, actor=actor)



def add_late_and_ontime(s, ontime_paid_on: tuple[date, ...], today: date) -> tuple[Loan, Loan]:
    """Two loans of one borrower on ``schedule()`` (3 instalments due 2024-02-01 … 04-01): ``L1`` unpaid, ``L2``
    paid 1,025.00 yuan on each of ``ontime_paid_on``."""
    from arrears.loans.payments import post_payment

    borrower = add_borrower(s)
    late, ontime = add_loan(s, borrower, "L1"), add_loan(s, borrower, "L2")
    for seq, day in enumerate(ontime_paid_on, start=1):
        post_payment(s, loan_id=ontime.id, amount_fen=102_500, received_on=day, idempotency_key=f"ok-{seq}",
                     actor="t", today=today)
    return late, ontime

def add_agreement_in_force(s, loan_id: int, on: date, due_on: date, cipher: PersonalDataCipher = CIPHER):
    """A real repayment agreement for the loan's whole debt in one instalment due ``due_on``: prepared, signed
    with the one-time code the outbox holds, countersigned on ``on`` (in force, executed; the case closes)."""
    import re

    from sqlalchemy import select

    from arrears.agreements import service, signing
    from arrears.agreements.execution import outstanding
    from arrears.contact.tables import OutboxMessage
    from arrears.loans.tables import Instalment
    from arrears.negotiation.plan import Plan, PlanInstalment

    debt = outstanding(list(s.scalars(select(Instalment).where(Instalment.loan_id == loan_id))))
    plan = Plan("instalments", loan_id, on, debt, (PlanInstalment(1, due_on, debt),)).check()
    a = service.create_agreement(s, plan=plan, loan_id=loan_id, prepared_by="negotiator1", cipher=cipher)
    signing.send_for_signature(s, agreement_id=a.id, actor="negotiator1", cipher=cipher)
    msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{a.id}:code:%"))).first()
    code = re.search(r"\d{6}", cipher.decrypt(msg.body_enc)).group(0)
    assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=a.borrower_id, code=code, consent=True,
                                 cipher=cipher).signed
    return service.countersign(s, agreement_id=a.id, officer="supervisor1", business_date=on)


def one_by_one_mismatches(s) -> tuple[int, list]:
    """(allocations checked, those whose ``one_by_one`` flag is not set or differs from the rule evaluated from
    their instalment and loan): dated after the due date, before the disbursement, or of an unknown component."""
    from sqlalchemy import text

    rows = s.execute(text("""
        SELECT a.id, a.source, a.value_date, i.due_on, l.disbursed_on, a.component, a.one_by_one,
               (a.value_date > i.due_on OR a.value_date < l.disbursed_on
                OR a.component NOT IN ('principal', 'interest', 'fee', 'cost', 'penalty')) AS rule
        FROM payment_allocations a JOIN instalments i ON i.id = a.instalment_id JOIN loans l ON l.id = a.loan_id
        ORDER BY a.id""")).all()
    return len(rows), [r for r in rows if r.one_by_one is None or bool(r.one_by_one) != bool(r.rule)]
