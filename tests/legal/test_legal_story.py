"""The seed's 小李 story end to end (DOMAIN §1, seed 003): no contact, escalation through the stages, the
lawyer's letter queued and printed as a PDF, filing, the judgment (over the cap refused, within accepted),
deadline reminders, enforcement, the judgment-defaulter listing, a recovery posted through the payments,
and the evidence bundle with every part, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, timedelta

import pypdf
import pytest
from legal_helpers import NOW, TODAY, case_version, xiao_li
from sqlalchemy import func, select

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.contact.channels import PdfLetterChannel
from arrears.contact.tables import OutboxMessage
from arrears.contact.worker import run_worker
from arrears.db.engine import unit_of_work
from arrears.errors import InvalidInput
from arrears.ledger.service import check_ledger
from arrears.legal import outcomes
from arrears.legal import service as legal
from arrears.legal.bundle import build_bundle, verify_bundle
from arrears.legal.deadlines import legal_deadlines_due, open_tasks, raise_deadline_tasks
from arrears.legal.model import Award
from arrears.legal.notices import send_notice
from arrears.legal.tables import LegalCase
from arrears.loans.tables import Instalment, Payment
from support import CIPHER


def _pdf_text(pdf: bytes) -> str:
    return "".join("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def test_xiao_li_from_silence_to_listing_and_recovery(db, tmp_path):
    ids = xiao_li(db, tmp_path)
    case_id = ids["case"]
    with db.session() as s:
        assert s.get(Case, case_id).stage == "preparation"  # opened by end of day, nobody has reached him

    # Escalation through the stages, each move by the case service.
    for to_stage, day in (("reminder", date(2024, 3, 12)), ("phone", date(2024, 3, 15))):
        with unit_of_work(db.factory) as s:
            move_stage(s, case_id=case_id, to_stage=to_stage, actor="collector", reason="无人接听",
                       expected_version=case_version(db, case_id), today=day)
    with unit_of_work(db.factory) as s:
        lc = legal.open_legal_case(s, case_id=case_id, expected_case_version=case_version(db, case_id),
                                   actor="fawu", reason="多次联系无果,转法务", today=date(2024, 6, 1),
                                   officer_user_id=ids["officer"])
        lc_id = lc.id
    with db.session() as s:
        assert s.get(Case, case_id).stage == "legal"

    # The lawyer's letter: queued once per case (a second request returns it), printed as a PDF by the worker.
    for _ in range(2):
        with unit_of_work(db.factory) as s:
            message = send_notice(s, cipher=CIPHER, case_id=case_id, kind="lawyer_letter", actor="fawu", now=NOW,
                                  today=date(2024, 6, 3), firm="示范律师事务所", lawyer="王律师")
            letter_id = message.id
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.case_id == case_id, OutboxMessage.template == "lawyer_letter")) == 1
        owed = s.execute(select(func.sum(Instalment.principal_due_fen - Instalment.principal_paid_fen))
                         .where(Instalment.loan_id == ids["loan"], Instalment.due_on <= date(2024, 6, 3))).scalar()
    owed = int(owed)
    letters = tmp_path / "letters"
    assert run_worker(db.factory, {"letter": PdfLetterChannel(letters)}, cipher=CIPHER, now=NOW).sent == 1
    with db.session() as s:
        sent = s.get(OutboxMessage, letter_id)
        assert sent.status == "sent" and sent.purpose == "legal_notice"
        text = _pdf_text((letters / sent.provider_message_id).read_bytes())
    for part in ("律师函", "李小明", "示范律师事务所", "王律师", "世纪大道", "L-LI", f"本金{owed // 100:,}.{owed % 100:02d}元"):
        assert part in text, part

    # Filing and a hearing.
    with unit_of_work(db.factory) as s:
        legal.file_claim(s, legal_case_id=lc_id, expected_version=1, court="上海市浦东新区人民法院",
                         court_case_no="(2024)沪0115民初1234号", firm="示范律师事务所", lawyer="王律师",
                         filed_on=date(2024, 6, 20), claim_fen=330_000, actor="fawu")
        legal.add_hearing(s, legal_case_id=lc_id, held_on=date(2024, 7, 20), kind="hearing", note="被告缺席",
                          actor="fawu")
        legal.add_cost(s, legal_case_id=lc_id, kind="court_fee", amount_fen=5_000, incurred_on=date(2024, 6, 20),
                       actor="fawu")

    # The judgment: over the 24%/year cap refused with the rule named; within it accepted.
    until = date(2024, 8, 1)
    cap = 300_000 * 24 * (until - date(2024, 1, 1)).days // (100 * 365)  # principal × 24% × days / 365
    judgment = {"legal_case_id": lc_id, "judgment_no": "(2024)沪0115民初1234号", "judgment_on": date(2024, 8, 1),
                "served_on": date(2024, 8, 5), "interest_until": until, "actor": "fawu"}
    with pytest.raises(InvalidInput) as refused, unit_of_work(db.factory) as s:
        legal.record_judgment(s, expected_version=2, award=Award(300_000, cap - 9_999, 10_000, 0, 5_000),
                              **judgment)
    assert refused.value.rule == "legal.judgment_cap.financial_loan_total_cost_cap"
    assert "法发〔2017〕22号" in refused.value.detail
    with unit_of_work(db.factory) as s:
        legal.record_judgment(s, expected_version=2, award=Award(300_000, cap - 10_000, 10_000, 0, 5_000),
                              **judgment)

    # Deadline reminders: the appeal period ends 15 days after service; the officer gets one task, once.
    with unit_of_work(db.factory) as s:
        assert legal_deadlines_due(s, date(2024, 8, 10)) == []
        due = legal_deadlines_due(s, date(2024, 8, 15))
        assert [(d.kind, d.due_on) for d in due] == [("appeal", date(2024, 8, 20))]
        assert raise_deadline_tasks(s, date(2024, 8, 15)) == {"raised": 1, "lapsed": 0}
        assert raise_deadline_tasks(s, date(2024, 8, 15)) == {"raised": 0, "lapsed": 0}
        assert [t.kind for t in open_tasks(s, ids["officer"])] == ["appeal"]

    # Enforcement: the freeze moves the collection case to enforcement; then the listing.
    with unit_of_work(db.factory) as s:
        outcomes.add_enforcement_action(s, legal_case_id=lc_id, expected_version=3, kind="account_freeze",
                                        taken_on=date(2024, 9, 2), reference="(2024)沪0115执5678号", amount_fen=80_000,
                                        actor="fawu")
    with unit_of_work(db.factory) as s:
        outcomes.add_enforcement_action(s, legal_case_id=lc_id, expected_version=4, kind="defaulter_listing",
                                        taken_on=date(2024, 9, 10), reference="(2024)沪0115执5678号", actor="fawu")
    with db.session() as s:
        assert s.get(Case, case_id).stage == "enforcement"
        assert s.get(LegalCase, lc_id).phase == "enforcing"

    # The frozen money recovered: posted as a payment, the ledger stays true.
    with unit_of_work(db.factory) as s:
        outcomes.record_recovery(s, legal_case_id=lc_id, amount_fen=80_000, received_on=date(2024, 9, 20),
                                 source="enforcement", idempotency_key="legal-rec-1", actor="fawu", today=TODAY)
    with db.session() as s:
        assert s.scalars(select(Payment).where(Payment.loan_id == ids["loan"])).one().amount_fen == 80_000
        assert s.get(LegalCase, lc_id).recovered_fen == 80_000
        assert check_ledger(s).ok
    _check_bundle(db, ids, letters)


def _check_bundle(db, ids, letters):
    now = NOW + timedelta(days=120)
    with unit_of_work(db.factory) as s:
        bundle = build_bundle(s, cipher=CIPHER, case_id=ids["case"], actor="fawu", now=now, letters_dir=letters)
    z = zipfile.ZipFile(io.BytesIO(bundle.data))
    names = set(z.namelist())
    for part in ("00_index.pdf", "01_contract.json", "02_schedule.csv", "03_payments.csv", "05_ledger.csv",
                 "06_contact_log.csv", "07_notices.csv", "08_promises.csv", "09_litigation.json", "10_events.jsonl",
                 "manifest.json"):
        assert part in names, part
    assert any(n.endswith("-letter.pdf") for n in names) and any(n.endswith("lawyer_letter.txt") for n in names)
    assert z.read("06_contact_log.csv").decode("utf-8-sig").count("no_answer") == 3
    assert "310101199001011234" in z.read("01_contract.json").decode()  # identities in clear, for the court
    litigation = json.loads(z.read("09_litigation.json"))
    assert [a["kind"] for a in litigation["enforcement_actions"]] == ["account_freeze", "defaulter_listing"]
    actions = {json.loads(line)["action"] for line in z.read("10_events.jsonl").decode().splitlines()}
    assert {"case.opened", "case.stage_moved", "legal.filed", "legal.judgment", "payment.posted",
            "outbox.queued"} <= actions
    index = _pdf_text(z.read("00_index.pdf"))
    for part in ("证据目录", "催收联系记录", "(2024)沪0115民初1234号", "李小明"):
        assert part in index, part
    assert verify_bundle(bundle.data) == []

    # Change one byte of one file: verification names it.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as w:
        for n in z.namelist():
            data = z.read(n)
            w.writestr(n, data.replace(b"80000", b"8000") if n == "03_payments.csv" else data)
    assert [p.split(":")[0] for p in verify_bundle(out.getvalue())] == ["03_payments.csv"]
    with db.session() as s:
        built = s.scalars(select(Event).where(Event.action == "legal.evidence_bundle_built")).one()
        assert built.after["manifest_sha256"] == bundle.manifest_sha256
        assert verify_events(s)[1] == []
