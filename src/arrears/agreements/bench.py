"""Agreement benchmark: one agreement PDF, and 1,000 agreements prepared, signed and executed in one batch.

``agreement_pdf_ms`` is the median of 20 renders of one agreement (Typst, CJK font); ``agreements_1000_s`` is
the wall time to create (terms + PDF stored by SHA-256), send a code, sign and countersign (ledger entries and
the new schedule) ``n`` agreements in one transaction on a fresh SQLite database, scaled to 1,000 when ``n``
differs (``agreements_1000_cpu_s``: the process's CPU time for the same, which a loaded machine does not
inflate). Loans are booked before the clock starts. Each agreement is its own document, so the batch loops
over agreements (not over a book of loans).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from arrears.agreements import render, service, signing
from arrears.agreements.execution import outstanding
from arrears.agreements.policy import policy
from arrears.bench.common import peak_rss_bytes
from arrears.compliance.policy import packaged_profiles
from arrears.contact.tables import OutboxMessage
from arrears.contact.templates import catalog as template_catalog
from arrears.db.engine import make_engine, make_session_factory
from arrears.db.models import metadata
from arrears.ledger.service import book_loan, check_ledger
from arrears.loans.model import ScheduledInstalment
from arrears.loans.tables import Borrower, Instalment
from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment
from arrears.privacy import PersonalDataCipher

AS_OF = date(2026, 3, 10)
CIPHER = PersonalDataCipher(b"bench-agreements".ljust(32, b"."))


def _plan(loan_id: int, debt: Amounts, periods: int = 12) -> Plan:
    """Interest waived on condition, the rest over ``periods`` monthly-ish instalments."""
    waiver = Amounts(interest=debt.interest)
    rest = {c: getattr(debt, c) - getattr(waiver, c) for c in COMPONENTS}
    parts = [{c: rest[c] // periods + (rest[c] % periods if k == periods - 1 else 0) for c in COMPONENTS}
             for k in range(periods)]
    schedule = tuple(PlanInstalment(k + 1, AS_OF + timedelta(days=30 * (k + 1)), Amounts(**p))
                     for k, p in enumerate(parts))
    return Plan("combination", loan_id, AS_OF, debt, schedule, waiver=waiver).check()


def _book(session, n: int) -> list[int]:  # noqa: ANN001
    ids = []
    for k in range(n):
        b = Borrower(borrower_no=f"BB{k}", name_enc=CIPHER.encrypt("王小明"), id_number_enc=CIPHER.encrypt(
            "110101199003071234"), id_number_digest=f"d{k}", phone_enc=CIPHER.encrypt("13812345678"),
            phone_digest=f"p{k}")
        session.add(b)
        session.flush()
        schedule = [ScheduledInstalment(s, date(2025, 3 + s, 5), 50_000, 1_000) for s in range(1, 7)]
        loan = book_loan(session, borrower_id=b.id, loan_no=f"BL{k}", product_code="consumer_loan",
                         method="equal_instalment", principal_fen=300_000, annual_rate=Decimal("0.12"), term=6,
                         disbursed_on=date(2025, 3, 1), first_due_on=schedule[0].due_on, schedule=schedule,
                         actor="bench")
        ids.append(loan.id)
    return ids


def run_agreement_bench(n: int = 1000) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        with factory() as s:
            loans = _book(s, n)
            s.commit()
            plans = [_plan(lid, outstanding(list(s.scalars(select(Instalment).where(Instalment.loan_id == lid)))))
                     for lid in loans]
            data = render.agreement_data(plan=plans[0], number="HK-BENCH", language="zh-CN", institution="普惠示范银行",
                                         borrower_name="王小明", id_masked="1101**********1234",
                                         phone_masked="138****5678", loan_no="BL0", dispute="争议协商解决。",
                                         grace_days=10, missed_instalments=2, days_late=30)
            # Fonts, message templates and compliance profiles load once, as in a running server.
            render.render_pdf(render.AGREEMENT, data, "zh-CN")
            template_catalog(), packaged_profiles(), policy()
            times = []
            for _ in range(20):
                t = time.perf_counter_ns()
                render.render_pdf(render.AGREEMENT, data, "zh-CN")
                times.append(time.perf_counter_ns() - t)
            started, cpu = time.perf_counter_ns(), time.process_time_ns()
            for lid, plan in zip(loans, plans):
                a = service.create_agreement(s, plan=plan, loan_id=lid, prepared_by="negotiator1", cipher=CIPHER)
                sent = signing.send_for_signature(s, agreement_id=a.id, actor="negotiator1", cipher=CIPHER)
                # The borrower reads the code from the message the outbox holds (only its digest is stored).
                body = CIPHER.decrypt(s.get(OutboxMessage, sent.message_id).body_enc)
                code = re.search(r"\d{6}", body).group(0)
                assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=a.borrower_id, code=code,
                                             consent=True, cipher=CIPHER).signed
                service.countersign(s, agreement_id=a.id, officer="supervisor1", business_date=AS_OF)
            s.commit()
            elapsed, cpu = time.perf_counter_ns() - started, time.process_time_ns() - cpu
            ok = check_ledger(s).ok
        engine.dispose()
    return {"agreement_pdf_ms": round(statistics.median(times) / 1_000_000, 2),
            "agreements": n, "agreements_1000_s": round(elapsed / 1_000_000_000 * 1000 / n, 2),
            "agreements_1000_cpu_s": round(cpu / 1_000_000_000 * 1000 / n, 2),
            "ledger_ok": ok, "peak_rss_mb": peak_rss_bytes() // (1024 * 1024)}
