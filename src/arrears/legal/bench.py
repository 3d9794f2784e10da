"""Evidence-bundle benchmark: ``run_evidence_bench()`` builds a case with two years of history in a fresh
SQLite database (24 monthly instalments, 12 paid, ~200 contact attempts, notices, promises, a legal case with
filing, judgment and enforcement) and times building its bundle (index PDF included) and verifying it.

Figures: evidence_bundle_s (cold: a new Typst renderer, fonts loaded), evidence_bundle_warm_s (a renderer
already loaded, as a server keeps one), evidence_verify_s, and the sizes. Seeded: runs are comparable."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from arrears.bench.common import stopwatch
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.contact.letters import LetterRenderer
from arrears.contact.outbox import queue_message
from arrears.db.engine import make_engine, make_session_factory, unit_of_work
from arrears.db.models import metadata
from arrears.ledger.service import book_loan
from arrears.legal import outcomes
from arrears.legal import service as legal
from arrears.legal.bundle import build_bundle, verify_bundle
from arrears.legal.model import Award
from arrears.legal.notices import send_notice
from arrears.loans.model import LoanTerms, RepaymentMethod
from arrears.loans.payments import post_payment
from arrears.loans.schedules import generate_schedule
from arrears.loans.tables import Borrower
from arrears.privacy import PersonalDataCipher
from arrears.products.catalog import catalog

START = date(2024, 1, 10)
TODAY = date(2026, 1, 20)
OUTCOMES = ("no_answer", "busy", "unreachable", "no_answer", "refused", "connected", "left_message")


def _world(factory, cipher: PersonalDataCipher, attempts: int, seed: int) -> int:
    rng = random.Random(seed)
    with unit_of_work(factory) as s:
        b = Borrower(borrower_no="B-BENCH", name_enc=cipher.encrypt("李小明"),
                     id_number_enc=cipher.encrypt("310101199001011234"), id_number_digest=cipher.digest("x"),
                     phone_enc=cipher.encrypt("13900002222"), phone_digest=cipher.digest("p"),
                     address_enc=cipher.encrypt("上海市浦东新区世纪大道 100 号"))
        s.add(b)
        s.flush()
        terms = LoanTerms(principal_fen=2_400_000, annual_rate=Decimal("0.12"), term=24,
                          method=RepaymentMethod.equal_instalment, disbursed_on=START, first_due_on=date(2024, 2, 10))
        sched = generate_schedule(terms, catalog().product("consumer_loan"))
        loan = book_loan(s, borrower_id=b.id, loan_no="L-BENCH", product_code="consumer_loan",
                         method="equal_instalment", principal_fen=terms.principal_fen, annual_rate=terms.annual_rate,
                         term=24, disbursed_on=START, first_due_on=terms.first_due_on, schedule=sched, actor="bench")
        for k, row in enumerate(sched[:12]):
            post_payment(s, loan_id=loan.id, amount_fen=row.principal_fen + row.interest_fen, received_on=row.due_on,
                         idempotency_key=f"bench-pay-{k}", actor="bench", today=TODAY)
        case = Case(loan_id=loan.id, borrower_id=b.id, stage="phone", status="open", opened_on=date(2025, 2, 12),
                    next_action="call", version=1)
        s.add(case)
        s.flush()
        at = datetime(2025, 2, 12, 2, 0, tzinfo=UTC)
        for k in range(attempts):
            at += timedelta(hours=rng.randint(20, 60))
            s.add(ContactLog(case_id=case.id, borrower_id=b.id, loan_id=loan.id, at=at, method=rng.choice(
                ("call", "call", "sms")), party="debtor", purpose="collect", allowed=True,
                outcome=rng.choice(OUTCOMES), note_enc=cipher.encrypt(f"第{k + 1}次联系")))
        for k in range(4):
            s.add(PromiseToPay(case_id=case.id, loan_id=loan.id, borrower_id=b.id, amount_fen=50_000 + k,
                               promised_on=date(2025, 3 + k, 1), due_on=date(2025, 3 + k, 8), status="broken"))
        for k in range(6):
            queue_message(s, cipher=cipher, borrower_id=b.id, loan_id=loan.id, case_id=case.id, channel="letter",
                          template="overdue_notice", dedupe_key=f"bench-overdue-{k}", now=at,
                          variables={"borrower_name": "李小明", "loan_no": "L-BENCH", "due_on": date(2025, 2, 10),
                                     "days_overdue": 30 * (k + 1), "amount_owed_fen": 300_000 + k, "penalty_fen": k})
        return case.id


def _legal(factory, cipher: PersonalDataCipher, case_id: int) -> None:
    now = datetime(2025, 12, 1, 2, 0, tzinfo=UTC)
    with unit_of_work(factory) as s:
        lc = legal.open_legal_case(s, case_id=case_id, expected_case_version=1, actor="bench", reason="bench",
                                   today=date(2025, 12, 1))
        for kind, extra in (("pre_suit_notice", {}), ("lawyer_letter", {"firm": "示范律师事务所", "lawyer": "王律师"})):
            send_notice(s, cipher=cipher, case_id=case_id, kind=kind, actor="bench", now=now, today=date(2025, 12, 1),
                        **extra)
        legal.file_claim(s, legal_case_id=lc.id, expected_version=1, court="上海市浦东新区人民法院",
                         court_case_no="(2025)沪0115民初1号", firm="示范律师事务所", lawyer="王律师",
                         filed_on=date(2025, 12, 10), claim_fen=1_300_000, actor="bench")
        legal.record_judgment(s, legal_case_id=lc.id, expected_version=2, judgment_no="(2025)沪0115民初1号",
                              judgment_on=date(2026, 1, 5), served_on=date(2026, 1, 6),
                              award=Award(1_200_000, 60_000, 20_000, 0, 8_000), interest_until=date(2026, 1, 5),
                              actor="bench")
        outcomes.add_enforcement_action(s, legal_case_id=lc.id, expected_version=3, kind="account_freeze",
                                        taken_on=date(2026, 1, 15), actor="bench", amount_fen=100_000)


def run_evidence_bench(attempts: int = 200, seed: int = 20240110) -> dict:
    cipher = PersonalDataCipher(bytes(32))
    with tempfile.TemporaryDirectory(prefix="arrears-evidence-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        metadata.create_all(engine)
        factory = make_session_factory(engine)
        figures: dict = {"contact_attempts": attempts, "instalments": 24}
        with stopwatch(figures, "setup_s"):
            case_id = _world(factory, cipher, attempts, seed)
            _legal(factory, cipher, case_id)
        now = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)
        with stopwatch(figures, "evidence_bundle_s"), unit_of_work(factory) as s:
            bundle = build_bundle(s, cipher=cipher, case_id=case_id, actor="bench", now=now)
        renderer = LetterRenderer()
        with stopwatch(figures, "evidence_bundle_warm_s"), unit_of_work(factory) as s:
            build_bundle(s, cipher=cipher, case_id=case_id, actor="bench", now=now, renderer=renderer)
        with stopwatch(figures, "evidence_verify_s"):
            problems = verify_bundle(bundle.data)
        engine.dispose()
    figures.update(bundle_bytes=len(bundle.data), bundle_files=len(bundle.manifest["files"]),
                   verified=not problems)
    return figures
