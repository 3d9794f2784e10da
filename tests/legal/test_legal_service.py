"""Litigation use cases beyond the story: out-of-court settlement closes the legal and the collection case and
runs the agreement hook; bad input and stale versions are refused with the rule named; notices are refused by
the compliance guard while a complaint is open; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from legal_helpers import NOW, case_version, xiao_li
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.complaints.tables import Complaint
from arrears.contact.tables import OutboxMessage
from arrears.db.engine import unit_of_work
from arrears.errors import Conflict, InvalidInput
from arrears.legal import outcomes
from arrears.legal import service as legal
from arrears.legal.deadlines import raise_deadline_tasks
from arrears.legal.model import Award
from arrears.legal.notices import send_notice
from arrears.legal.tables import Deadline, LegalCase, Settlement
from support import CIPHER


def _to_legal(db, ids) -> int:
    for to_stage in ("reminder", "phone"):
        with unit_of_work(db.factory) as s:
            move_stage(s, case_id=ids["case"], to_stage=to_stage, actor="t", reason="无人接听",
                       expected_version=case_version(db, ids["case"]), today=date(2024, 3, 20))
    with unit_of_work(db.factory) as s:
        return legal.open_legal_case(s, case_id=ids["case"], expected_case_version=case_version(db, ids["case"]),
                                     actor="t", reason="转法务", today=date(2024, 6, 1),
                                     officer_user_id=ids["officer"]).id


def test_settlement_closes_the_legal_case_and_runs_the_agreement_hook(db, tmp_path, monkeypatch):
    ids = xiao_li(db, tmp_path, attempts=2)
    lc_id = _to_legal(db, ids)
    seen = []
    monkeypatch.setattr(outcomes, "SETTLEMENT_HOOKS", [lambda s, lc, st, actor: seen.append((lc.id, st.total_fen))])
    terms = {"instalments": [{"due_on": "2024-07-01", "amount_fen": 150_000},
                             {"due_on": "2024-08-01", "amount_fen": 150_000}], "waived_fen": 12_000}
    with pytest.raises(InvalidInput) as bad, unit_of_work(db.factory) as s:
        outcomes.settle(s, legal_case_id=lc_id, expected_version=1, settled_on=date(2024, 6, 10), total_fen=310_000,
                        terms=terms, actor="t")
    assert bad.value.rule == "legal.settlement_total"
    with unit_of_work(db.factory) as s:
        outcomes.settle(s, legal_case_id=lc_id, expected_version=1, settled_on=date(2024, 6, 10), total_fen=300_000,
                        terms=terms, actor="t")
    assert seen == [(lc_id, 300_000)]
    with db.session() as s:
        lc = s.get(LegalCase, lc_id)
        assert (lc.status, lc.outcome, lc.closed_on) == ("closed", "settled", date(2024, 6, 10))
        case = s.get(Case, ids["case"])
        assert (case.status, case.close_reason) == ("closed", "agreement_in_force")
        st = s.scalars(select(Settlement)).one()
        assert st.terms["instalments"][1] == {"due_on": "2024-08-01", "amount_fen": 150_000}
        assert st.terms["waived_fen"] == 12_000
        assert {e.action for e in s.scalars(select(Event).where(Event.subject_type == "legal_case"))} == {
            "legal.case_opened", "legal.settled"}
    with pytest.raises(Conflict) as closed, unit_of_work(db.factory) as s:
        legal.file_claim(s, legal_case_id=lc_id, expected_version=2, court="c", court_case_no="n", firm="f",
                         lawyer="l", filed_on=date(2024, 6, 20), claim_fen=1, actor="t")
    assert closed.value.rule == "legal_case.open"


def test_settlement_after_judgment_ends_the_open_deadlines(db, tmp_path):
    ids = xiao_li(db, tmp_path, attempts=0)
    lc_id = _to_legal(db, ids)
    with unit_of_work(db.factory) as s:
        legal.file_claim(s, legal_case_id=lc_id, expected_version=1, court="法院", court_case_no="(2024)1号",
                         firm="所", lawyer="律师", filed_on=date(2024, 6, 2), claim_fen=300_000, actor="t")
        legal.record_judgment(s, legal_case_id=lc_id, expected_version=2, judgment_no="(2024)1号",
                              judgment_on=date(2024, 7, 1), served_on=date(2024, 7, 3),
                              award=Award(300_000, 1_000, 1_000, 0, 0), interest_until=date(2024, 7, 1), actor="t")
    with unit_of_work(db.factory) as s:
        outcomes.settle(s, legal_case_id=lc_id, expected_version=3, settled_on=date(2024, 7, 10), total_fen=290_000,
                        terms={"instalments": [{"due_on": "2024-08-01", "amount_fen": 290_000}]}, actor="t")
    with unit_of_work(db.factory) as s:
        assert {d.status for d in s.scalars(select(Deadline))} == {"done"}
        assert raise_deadline_tasks(s, date(2026, 12, 31)) == {"raised": 0, "lapsed": 0}


def test_stale_versions_unknown_kinds_and_order_of_dates_are_refused(db, tmp_path):
    ids = xiao_li(db, tmp_path, attempts=0)
    with pytest.raises(InvalidInput) as move, unit_of_work(db.factory) as s:
        legal.open_legal_case(s, case_id=ids["case"], expected_case_version=case_version(db, ids["case"]),
                              actor="t", reason="x", today=date(2024, 6, 1))
    assert move.value.rule == "case.transition"  # preparation → legal is not in lifecycle.yaml
    lc_id = _to_legal(db, ids)
    with pytest.raises(Conflict) as twice, unit_of_work(db.factory) as s:
        legal.open_legal_case(s, case_id=ids["case"], expected_case_version=case_version(db, ids["case"]),
                              actor="t", reason="x", today=date(2024, 6, 1))
    assert twice.value.rule == "legal_case.one_open"
    cases = [({"expected_version": 9}, Conflict, "legal_case.version"),
             ({"filed_on": date(2024, 5, 1)}, InvalidInput, "legal.date_order"),
             ({"claim_fen": 0}, InvalidInput, "legal.amount"),
             ({"court": " "}, InvalidInput, "legal.required")]
    for change, kind, rule in cases:
        args = {"legal_case_id": lc_id, "expected_version": 1, "court": "法院", "court_case_no": "(2024)1号",
                "firm": "所", "lawyer": "律师", "filed_on": date(2024, 6, 2), "claim_fen": 1, "actor": "t", **change}
        with pytest.raises(kind) as err, unit_of_work(db.factory) as s:
            legal.file_claim(s, **args)
        assert err.value.rule == rule, change
    with pytest.raises(Conflict) as early, unit_of_work(db.factory) as s:
        outcomes.add_enforcement_action(s, legal_case_id=lc_id, expected_version=1, kind="auction",
                                        taken_on=date(2024, 7, 1), actor="t")
    assert early.value.rule == "legal_case.judged"
    with pytest.raises(InvalidInput) as kind, unit_of_work(db.factory) as s:
        legal.add_cost(s, legal_case_id=lc_id, kind="bribe", amount_fen=1, incurred_on=date(2024, 7, 1), actor="t")
    assert kind.value.rule == "legal.cost_kind"


def test_notices_follow_the_guard_and_are_one_per_case_and_kind(db, tmp_path):
    ids = xiao_li(db, tmp_path, attempts=0)
    args = {"cipher": CIPHER, "case_id": ids["case"], "actor": "t", "today": date(2024, 6, 3)}
    with unit_of_work(db.factory) as s:
        s.add(Complaint(borrower_id=ids["borrower"], case_id=ids["case"], channel="phone", category="conduct",
                        status="open", text_enc=CIPHER.encrypt("投诉"), filed_at=NOW, sla_due_on=date(2024, 6, 20)))
    with pytest.raises(Conflict) as frozen, unit_of_work(db.factory) as s:
        send_notice(s, kind="pre_suit_notice", now=NOW, **args)
    assert frozen.value.rule == "open_complaint"
    with unit_of_work(db.factory) as s:
        s.scalars(select(Complaint)).one().status = "resolved"
    with pytest.raises(InvalidInput) as unsigned, unit_of_work(db.factory) as s:
        send_notice(s, kind="lawyer_letter", now=NOW, **args)
    assert unsigned.value.rule == "legal.letter_signed"
    night = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: queued; the worker keeps quiet hours
    with unit_of_work(db.factory) as s:
        first = send_notice(s, kind="pre_suit_notice", now=night, **args)
        assert (first.template, first.purpose, first.quiet_profile) == ("pre_suit_notice", "legal_notice", "cn-bank")
        again = send_notice(s, kind="pre_suit_notice", now=NOW, **args)
        assert again.id == first.id
        assert len(s.scalars(select(OutboxMessage)).all()) == 1
    with pytest.raises(InvalidInput) as unknown, unit_of_work(db.factory) as s:
        send_notice(s, kind="threat_letter", now=NOW, **args)
    assert unknown.value.rule == "legal.notice_kind"


def test_a_notice_in_english_states_the_amounts_from_the_instalments(db, tmp_path):
    ids = xiao_li(db, tmp_path, attempts=0)
    from arrears.loans.tables import Borrower, Instalment

    with unit_of_work(db.factory) as s:
        s.get(Borrower, ids["borrower"]).language = "en"
        m = send_notice(s, cipher=CIPHER, case_id=ids["case"], kind="lawyer_letter", actor="t", now=NOW,
                        today=date(2024, 6, 3), firm="Demo Law Firm", lawyer="Wang")
        body = CIPHER.decrypt(m.body_enc)
        rows = s.scalars(select(Instalment).where(Instalment.loan_id == ids["loan"],
                                                  Instalment.due_on <= date(2024, 6, 3))).all()
    principal = sum(r.principal_due_fen - r.principal_paid_fen for r in rows)
    penalty = sum(r.penalty_due_fen - r.penalty_paid_fen for r in rows)
    assert m.language == "en" and "Lawyer's letter" in CIPHER.decrypt(m.subject_enc)
    assert f"principal {principal // 100:,}.{principal % 100:02d} yuan" in body
    assert f"penalty interest {penalty // 100:,}.{penalty % 100:02d} yuan" in body
    assert penalty > 0  # end of day charged penalty interest on the overdue instalments


def test_costs_the_court_awards_are_charged_to_the_loan_and_paid_first(db, tmp_path):
    from arrears.ledger.service import check_ledger
    from arrears.ledger.tables import JournalEntry
    from arrears.loans.payments import post_payment
    from arrears.loans.tables import Instalment

    ids = xiao_li(db, tmp_path, attempts=0)
    lc_id = _to_legal(db, ids)
    with db.session() as s:
        before = {i.seq: i.cost_due_fen for i in s.scalars(select(Instalment).where(Instalment.loan_id == ids["loan"]))}
    with unit_of_work(db.factory) as s:
        legal.file_claim(s, legal_case_id=lc_id, expected_version=1, court="法院", court_case_no="(2024)1号",
                         firm="所", lawyer="律师", filed_on=date(2024, 6, 2), claim_fen=300_000, actor="t")
        legal.add_cost(s, legal_case_id=lc_id, kind="court_fee", amount_fen=7_000, incurred_on=date(2024, 6, 2),
                       actor="t")  # paid by the institution; the borrower owes it only once the court says so
    with db.session() as s:
        assert sum(i.cost_due_fen for i in s.scalars(select(Instalment))) == sum(before.values())
    with unit_of_work(db.factory) as s:
        legal.record_judgment(s, legal_case_id=lc_id, expected_version=2, judgment_no="(2024)1号",
                              judgment_on=date(2024, 7, 1), served_on=date(2024, 7, 3),
                              award=Award(300_000, 1_000, 1_000, 0, 5_000), interest_until=date(2024, 7, 1),
                              actor="t")
    with db.session() as s:
        rows = s.scalars(select(Instalment).where(Instalment.loan_id == ids["loan"]).order_by(Instalment.seq)).all()
        assert [r.cost_due_fen - before[r.seq] for r in rows] == [5_000, 0, 0]  # the oldest unpaid instalment
        entry = s.scalars(select(JournalEntry).where(JournalEntry.kind == "cost")).one()
        assert entry.loan_id == ids["loan"] and "(2024)1号" in entry.memo
        assert check_ledger(s).problems == []
    with unit_of_work(db.factory) as s:
        post_payment(s, loan_id=ids["loan"], amount_fen=6_000, received_on=date(2024, 7, 20),
                     idempotency_key="after-judgment", actor="t", today=date(2024, 7, 20))
    with db.session() as s:
        first = s.scalars(select(Instalment).where(Instalment.loan_id == ids["loan"], Instalment.seq == 1)).one()
        assert first.cost_paid_fen == 5_000  # costs before penalty, interest and principal (民法典 Art. 561)
        assert check_ledger(s).problems == []
