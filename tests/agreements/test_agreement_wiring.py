"""Agreements wired to the other capabilities, on both backends: the collection stop read by the compliance
guard (outbox and contact-log API), the transfer refusal for an account under a real agreement, the credit
report's special code for a real agreement, and write-off selection by legal outcome."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from agreement_helpers import PLAN_DATE, TODAY, debt_of, make_plan, signed_and_countersigned
from sqlalchemy import select
from support import CIPHER, add_agreement_in_force, add_borrower, add_loan

from arrears.agreements.execution import special_event_kinds
from arrears.agreements.policy import policy
from arrears.agreements.tables import Agreement
from arrears.auth.model import Principal, Role
from arrears.cases.tables import Case
from arrears.contact.outbox import queue_message
from arrears.credit.monthend import month_end
from arrears.delinquency.service import run_date
from arrears.errors import Conflict, InvalidInput
from arrears.legal.tables import LegalCase
from arrears.negotiation.plan import Amounts
from arrears.privacy import PersonalDataCipher
from arrears.writeoff.service import batch_items, propose_write_off
from arrears.writeoff.hooks import loans_under_agreement, loans_with_legal_outcome
from arrears.writeoff.transfer import RULE_AGREEMENT, build_package

NOON = datetime(2024, 3, 11, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NOTICE = ("overdue_notice", {"borrower_name": "张三", "loan_no": "C1", "due_on": date(2024, 2, 1),
                             "days_overdue": 40, "amount_owed_fen": 61_234, "penalty_fen": 1_234})
STAFF = Principal(user_id=1, username="sup", display_name="sup", role=Role.admin)


def _card_and_loan(db, store, cipher=CIPHER):
    """One borrower with an overdue credit card (C1) and an overdue consumer loan (L2); end of day opens both
    cases."""
    with db.session() as s:
        b = add_borrower(s, "B1", phone="13812345678", cipher=cipher)
        card, other = add_loan(s, b, "C1", product_code="credit_card", method="card_statement"), add_loan(s, b, "L2")
        s.commit()
        ids = b.id, card.id, other.id
    run_date(db.factory, store, PLAN_DATE, today=TODAY)
    return ids


def _queue(s, borrower_id, loan_id, key):
    name, variables = NOTICE
    return queue_message(s, cipher=CIPHER, borrower_id=borrower_id, loan_id=loan_id, channel="sms", template=name,
                         variables=variables, dedupe_key=key, now=NOON)


def test_a_countersigned_card_instalment_stops_collection_until_breach(db, store):
    assert policy().product("credit_card").stops_collection
    bid, card, other = _card_and_loan(db, store)
    with db.session() as s:
        _queue(s, bid, card, "before")  # collection contact allowed before the agreement
        plan = make_plan(debt_of(s, card), card, n=2)
        a = signed_and_countersigned(s, plan, card, bid)
        s.commit()
        assert a.stops_collection
        with pytest.raises(Conflict) as exc:  # for the borrower: his other loan's notice is stopped too
            _queue(s, bid, other, "during")
        assert exc.value.rule == "collection_stopped"
    breach = plan.schedule[0].due_on + timedelta(days=policy().default_clause.days_late + 1)
    run_date(db.factory, store, breach, today=TODAY)
    with db.session() as s:
        assert s.get(Agreement, a.id).status == "breached"
        assert _queue(s, bid, other, "after").status == "pending"  # allowed again after breach
        s.commit()


def test_the_contact_log_api_refuses_collection_while_an_agreement_stops_it(db, store, make_client, secret_key):
    cipher = PersonalDataCipher(secret_key)
    bid, card, other = _card_and_loan(db, store, cipher)
    with make_client("supervisor") as c:
        sup = c.issued_bearer("supervisor")
        with db.session() as s:
            case = s.scalar(select(Case).where(Case.loan_id == other, Case.status == "open"))
            a = add_agreement_in_force(s, card, PLAN_DATE, due_on=date(2024, 5, 10), cipher=cipher).id
            s.commit()
        at = (NOON + timedelta(days=1)).isoformat()
        r = c.post(f"/api/v1/cases/{case.id}/contacts", headers=sup, json={"method": "call", "at": at})
        assert r.status_code == 409 and r.json()["rule"] == "collection_stopped", r.text
        r = c.post(f"/api/v1/cases/{case.id}/contacts", headers=sup,
                   json={"method": "call", "at": at, "purpose": "agreement_service"})
        assert r.status_code == 201, r.text  # servicing the agreement is still allowed
        with db.session() as s:
            assert s.get(Agreement, a).status == "countersigned"
            card_case = s.scalar(select(Case).where(Case.loan_id == card).order_by(Case.id.desc()))
            assert (card_case.status, card_case.close_reason) == ("closed", "agreement_in_force")


def test_a_loan_under_a_real_agreement_cannot_be_transferred(db, store):
    bid, card, other = _card_and_loan(db, store)
    with db.session() as s:
        a = signed_and_countersigned(s, make_plan(debt_of(s, other), other, n=2), other, bid)
        s.commit()
        assert loans_under_agreement(s) == {other}
        with pytest.raises(InvalidInput) as exc:
            build_package(s, code="P1", principal=STAFF, today=PLAN_DATE, store=store, loan_ids=[other])
        assert exc.value.rule == RULE_AGREEMENT == "transfer.under_agreement"
        package = build_package(s, code="P2", principal=STAFF, today=PLAN_DATE, store=store, loan_ids=[card])
        assert package.loans == 1  # the loan without an agreement may go
        a.status = "completed"  # an agreement no longer in force no longer protects the loan
        s.flush()
        assert loans_under_agreement(s) == set()


def test_month_end_reports_the_special_code_of_a_real_agreement(db, store, tmp_path):
    with db.session() as s:
        b = add_borrower(s, "B9", id_number="110101199003079999", phone="13812345679")
        card = add_loan(s, b, "C9", product_code="credit_card", method="card_statement").id
        s.commit()
        bid = b.id
    run_date(db.factory, store, PLAN_DATE, today=TODAY)
    with db.session() as s:
        plan = make_plan(debt_of(s, card), card, n=2)  # the penalty waived: a debt reduction as well
        signed_and_countersigned(s, plan, card, bid)
        s.commit()
    run_date(db.factory, store, date(2024, 3, 31), today=TODAY)
    with db.session() as s:
        out = month_end(s, month=date(2024, 3, 1), store=store, out_dir=tmp_path / "credit", today=TODAY,
                        cipher=CIPHER, actor="credit1")
        s.commit()
    lines = [json.loads(x) for x in out.path.read_text(encoding="utf-8").splitlines()]
    specials = {(x["special_kind"], x["special_code"]) for x in lines if x["record"] == "S"}
    assert specials == {("personalised_instalment", "14"), ("debt_reduction", "11")}, lines
    account = next(x for x in lines if x["record"] == "A")
    assert account["status_24"][-1] == "N"  # restructured: nothing overdue at month end


def test_special_event_kinds_follow_the_plan():
    debt = Amounts(principal=300_000, interest=6_000, penalty=2_000)
    waived = make_plan(debt, 1, n=3)
    assert special_event_kinds(waived, date(2024, 4, 1), card=True) == {
        "debt_reduction": (2_000, 0), "personalised_instalment": (waived.total_to_pay, 0)}
    longer = make_plan(debt, 1, n=6, waive_penalty=False)  # ends 2024-09, three months past a June maturity
    assert special_event_kinds(longer, date(2024, 6, 1), card=False) == {"extension": (longer.total_to_pay, 3)}
    assert special_event_kinds(longer, date(2024, 12, 1), card=False) == {
        "personalised_instalment": (longer.total_to_pay, 0)}


def test_write_off_selects_loans_by_legal_outcome(db, store):
    bid, card, other = _card_and_loan(db, store)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.loan_id == other, Case.status == "open"))
        s.add(LegalCase(case_id=case.id, loan_id=other, borrower_id=bid, status="closed", phase="enforcing",
                        opened_on=PLAN_DATE, closed_on=PLAN_DATE, outcome="terminated"))
        s.flush()
        assert loans_with_legal_outcome(s, ["terminated"]) == [other]
        assert loans_with_legal_outcome(s, ["recovered"]) == []
        batch = propose_write_off(s, principal=STAFF, today=PLAN_DATE)
        assert {i.loan_id for i in batch_items(s, batch.id)} == {other}  # dpd 40: only the legal outcome counts
