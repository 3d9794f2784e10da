"""Issue 5 "done when": the seed's 小王 story end to end through the API on SQLite and PostgreSQL — overdue
after job loss (end of day), hardship application with evidence, options, a counter-offer, approval,
acceptance, the agreement, signing with the one-time code, countersign (the case closes as agreement in force),
payments by the new schedule, end of day, completion and the settlement certificate with extractable Chinese.
And the breach story: two breaches through the same API end in escalation to legal."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pypdf
from sqlalchemy import select
from story_helpers import (API, OVERDUE_ON, PDF, STATEMENT, TODAY, sign_and_countersign, simple_agreement,
                           wang_overdue)

from arrears.agreements.policy import policy
from arrears.audit.service import verify_events
from arrears.cases.tables import Case
from arrears.credit.tables import CreditSpecialEvent
from arrears.delinquency.service import run_date
from arrears.ledger.service import check_ledger
from arrears.loans.tables import Loan
from arrears.privacy import PersonalDataCipher


def _on(monkeypatch, day: date) -> None:
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", day.isoformat())  # read by the app on every request


def _case(db, loan_id: int) -> Case:
    with db.session() as s:
        return s.scalars(select(Case).where(Case.loan_id == loan_id).order_by(Case.id.desc())).first()


def test_xiaowang_from_job_loss_to_the_settlement_certificate(db, store, make_client, monkeypatch, secret_key):
    cipher = PersonalDataCipher(secret_key)
    ids = wang_overdue(db, store, cipher)
    loan = ids["loan"]
    _on(monkeypatch, OVERDUE_ON)
    opened = _case(db, loan)
    assert opened.status == "open"  # end of day opened his collection case
    with make_client("negotiator", "supervisor") as c:
        me, nego, sup = c.issued_bearer(ids["user"]), c.issued_bearer("negotiator"), c.issued_bearer("supervisor")
        # He applies with his termination letter; the negotiator verifies it.
        r = c.post(f"{API}/loans/{loan}/hardship-applications", headers=me, json={
            "statement": STATEMENT, "hardship_kind": "job_loss", "hardship_since": "2025-12-15",
            "description": "公司裁员", "consent": True})
        assert r.status_code == 201, r.text
        app = r.json()
        r = c.post(f"{API}/hardship-applications/{app['id']}/evidence", headers=me,
                   files={"file": ("termination.pdf", PDF, "application/pdf")})
        assert r.status_code == 201, r.text
        r = c.post(f"{API}/hardship-applications/{app['id']}/review", headers=nego,
                   json={"decision": "verified", "note": "核实", "version": app["version"]})
        assert r.json()["status"] == "verified"
        options = c.get(f"{API}/loans/{loan}/plan-options", headers=nego).json()
        assert options["dpd"] > 60 and options["debt"]["penalty"]["fen"] > 0
        # Offer, his counter-offer (rejected), a middle way above the negotiator's authority: approved, accepted.
        mine = next(o for o in options["options"] if o["required_authority"] == "negotiator")
        neg = c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={"application_id": app["id"]}).json()
        first = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=nego, json={"terms": mine["terms"]}).json()
        counter = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=me, json={
            "terms": {"periods": 36, "annual_rate": "0.06", "waiver": {"principal": "2000"}},
            "counter_to_id": first["id"]})
        assert counter.status_code == 201 and counter.json()["party"] == "borrower", counter.text
        assert c.post(f"{API}/offers/{counter.json()['id']}/reject", headers=nego).status_code == 200
        penalty = options["debt"]["penalty"]["fen"]
        middle = {"periods": 6, "annual_rate": "0.06", "waiver": {"penalty": penalty, "principal": 100_000}}
        offer = c.post(f"{API}/negotiations/{neg['id']}/offers", headers=nego, json={"terms": middle}).json()
        assert offer["status"] == "pending_approval", offer
        assert c.post(f"{API}/offers/{offer['id']}/approve", headers=sup).json()["status"] == "open"
        assert c.post(f"{API}/offers/{offer['id']}/accept", headers=me).json()["status"] == "accepted"
        # The agreement from the accepted offer; a second one for the same negotiation is refused.
        assert c.post(f"{API}/negotiations/{neg['id']}/agreement", headers=me, json={}).status_code == 403
        r = c.post(f"{API}/negotiations/{neg['id']}/agreement", headers=nego, json={})
        assert r.status_code == 201, r.text
        draft = r.json()
        plan = c.get(f"{API}/negotiations/{neg['id']}", headers=nego).json()["offers"][-1]["plan"]
        assert draft["status"] == "draft" and [(i["due_on"], i["amounts"]) for i in draft["terms"]["schedule"]] == [
            (i["due_on"], {k: v for k, v in i.items() if k not in ("seq", "due_on")}) for i in plan["schedule"]]
        again = c.post(f"{API}/negotiations/{neg['id']}/agreement", headers=nego, json={})
        assert again.status_code == 409 and again.json()["rule"] == "agreement.one_live"
        agreed = c.get(f"{API}/negotiations/{neg['id']}", headers=nego).json()
        assert agreed["status"] == "agreed"
        # Signed with the code from the outbox, countersigned by the supervisor: in force, case closed.
        signed = sign_and_countersign(c, db, cipher, draft, me, nego, sup)
        assert signed["executed_on"] == OVERDUE_ON.isoformat()
        case = _case(db, loan)
        assert (case.id, case.status, case.close_reason) == (opened.id, "closed", "agreement_in_force")
        with db.session() as s:
            kinds = {e.kind: (e.amount_fen, e.months_changed) for e in s.scalars(select(CreditSpecialEvent).where(
                CreditSpecialEvent.loan_id == loan))}
        # For the credit report: a debt reduction, and an extension (the plan runs past June 2026).
        last = date.fromisoformat(plan["schedule"][-1]["due_on"])
        assert kinds == {"debt_reduction": (penalty + 100_000, 0),
                         "extension": (sum(draft["terms"]["schedule"][k]["amounts"][x] for k in range(6)
                                           for x in ("principal", "interest", "penalty", "fee", "cost")),
                                       (last.year - 2026) * 12 + last.month - 6)}
        # He pays by the new schedule, each instalment on its due date; end of day runs along the way.
        for k, inst in enumerate(plan["schedule"]):
            due = date.fromisoformat(inst["due_on"])
            _on(monkeypatch, due)
            amount = sum(inst[x] for x in ("principal", "interest", "penalty", "fee", "cost"))
            r = c.post(f"{API}/loans/{loan}/payments", headers={**sup, "Idempotency-Key": f"plan-{k}"},
                       json={"amount": amount, "received_on": due.isoformat(), "channel": "bank_transfer"})
            assert r.status_code == 201, r.text
            if k in (0, 3):
                run_date(db.factory, store, due + timedelta(days=1), today=TODAY)
                assert c.get(f"{API}/agreements/{draft['id']}", headers=me).json()["status"] == "countersigned"
                assert _case(db, loan).status == "closed"  # no new case while he keeps to the agreement
        end = date.fromisoformat(plan["schedule"][-1]["due_on"]) + timedelta(days=1)
        run_date(db.factory, store, end, today=TODAY)
        _on(monkeypatch, end)
        done = c.get(f"{API}/agreements/{draft['id']}", headers=me).json()
        assert done["status"] == "completed" and done["ended_on"] == end.isoformat()
        assert c.get(f"{API}/loans/{loan}", headers=sup).json()["status"] == "closed"
        r = c.get(f"{API}/agreements/{draft['id']}/certificate", headers=me)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
        assert "结清证明" in text and "王小明" in text
    with db.session() as s:
        assert s.get(Loan, loan).status == "closed"
        assert check_ledger(s).ok and not verify_events(s)[1]


def test_two_breaches_through_the_api_end_in_legal(db, store, make_client, monkeypatch, secret_key):
    cipher = PersonalDataCipher(secret_key)
    clause, limit = policy().default_clause, policy().renegotiation.max_agreements_per_loan
    assert limit == 2  # the story below breaches the first agreement, renegotiates, breaches the second
    ids = wang_overdue(db, store, cipher)
    loan = ids["loan"]
    _on(monkeypatch, OVERDUE_ON)
    with make_client("negotiator", "supervisor", "collector") as c:
        me, nego, sup = c.issued_bearer(ids["user"]), c.issued_bearer("negotiator"), c.issued_bearer("supervisor")
        first = simple_agreement(c, db, cipher, loan, me, nego, sup, {"periods": 12, "annual_rate": "0.06",
                                                               "waiver": {"penalty": "10.00"}})
        case_id = _case(db, loan).id
        assert _case(db, loan).close_reason == "agreement_in_force"
        # Nothing paid: breached once the first instalment is more than days_late late.
        breach_day = date.fromisoformat(first["terms"]["schedule"][0]["due_on"]) + timedelta(days=clause.days_late + 1)
        run_date(db.factory, store, breach_day, today=TODAY)
        _on(monkeypatch, breach_day)
        a1 = c.get(f"{API}/agreements/{first['id']}", headers=sup).json()
        assert (a1["status"], a1["escalation"]) == ("breached", "renegotiate")
        case = _case(db, loan)
        assert (case.id, case.status) == (case_id, "open")  # the breach re-opened his case
        # Collection resumes: the collector's team lead moves the case to phone through the API.
        path = ("preparation", "reminder", "phone")
        for stage in path[path.index(case.stage) + 1:]:
            version = c.get(f"{API}/cases/{case_id}", headers=sup).json()["version"]
            r = c.post(f"{API}/cases/{case_id}/stage", headers=sup,
                       json={"to_stage": stage, "reason": "协议违约,恢复催收", "expected_version": version})
            assert r.status_code == 200, r.text
        # Renegotiated once; the second agreement is breached too: the case goes to legal.
        second = simple_agreement(c, db, cipher, loan, me, nego, sup, {"periods": 12, "annual_rate": "0.06"})
        assert _case(db, loan).status == "closed"
        legal_day = date.fromisoformat(second["terms"]["schedule"][0]["due_on"]) + timedelta(days=clause.days_late + 1)
        run_date(db.factory, store, legal_day, today=TODAY)
        _on(monkeypatch, legal_day)
        a2 = c.get(f"{API}/agreements/{second['id']}", headers=sup).json()
        assert (a2["status"], a2["escalation"]) == ("breached", "legal")
        detail = c.get(f"{API}/cases/{case_id}", headers=sup).json()
        assert (detail["status"], detail["stage"]) == ("open", "legal")
        neg = c.post(f"{API}/loans/{loan}/negotiations", headers=nego, json={})
        if neg.status_code == 201:  # the product may allow a negotiation, but no third agreement
            offer = c.post(f"{API}/negotiations/{neg.json()['id']}/offers", headers=nego,
                           json={"terms": {"periods": 12, "annual_rate": "0.06"}}).json()
            c.post(f"{API}/offers/{offer['id']}/accept", headers=me).raise_for_status()
            r = c.post(f"{API}/negotiations/{neg.json()['id']}/agreement", headers=nego, json={})
            assert r.status_code == 409 and r.json()["rule"] == "agreement.renegotiation_limit"
    with db.session() as s:
        assert check_ledger(s).ok and not verify_events(s)[1]
