"""The demo's in-flight stories (demo.stories) on a small generated portfolio, on both backends: each desk shows
its story to the role that works it (the pages, signed in with the demo's sign-ins), the states are the ones
the services left, and the event chains and the agreements' tamper evidence verify; the same seed picks the same
loans."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.agreements.service import number
from arrears.agreements.tables import Agreement
from arrears.agreements.verify import verify_agreements
from arrears.audit.service import verify_events
from arrears.cases.tables import Case
from arrears.complaints.tables import Complaint
from arrears.db.engine import make_engine
from arrears.delinquency.snapshots import SnapshotStore
from arrears.demo.build import DEMO_PASSWORD, build_demo, create_sign_ins, demo_calendar, load_portfolio
from arrears.demo.stories import seed_stories
from arrears.legal.tables import Deadline, LegalCase
from arrears.loans.tables import Loan
from arrears.negotiation.tables import HardshipApplication, Negotiation, Offer
from arrears.privacy import PersonalDataCipher
from arrears.settings import load_settings
from arrears.web.i18n import format_date
from arrears.writeoff.tables import WriteOffBatch

TODAY = date(2026, 11, 20)
pytestmark = pytest.mark.business_date(TODAY.isoformat())


def _build(db, tmp_path, cipher: PersonalDataCipher, seed: int = 1):
    logins = []
    portfolio = load_portfolio(db.factory, tmp_path / "demo", cipher, SnapshotStore(tmp_path / "snapshots"),
                               loans=200, business_date=TODAY, seed=seed, step=lambda _m: None,
                               calendar=demo_calendar(TODAY),
                               before_eod=lambda p: logins.extend(create_sign_ins(db.factory, p.behaviours)))
    borrower = next(username for username, _, role in logins if role == "borrower")
    stories = seed_stories(db.factory, cipher, business_date=TODAY, seed=seed, behaviours=portfolio.behaviours,
                           borrower_login=borrower)
    return stories, borrower


def _page(client, username: str, url: str) -> str:
    client.cookies.clear()
    assert client.login(username, DEMO_PASSWORD).status_code == 303
    r = client.get(url)
    assert r.status_code == 200, r.text
    return r.text


def test_every_desk_opens_with_its_story(db, tmp_path, secret_key, make_client):
    cipher = PersonalDataCipher(secret_key)
    stories, borrower = _build(db, tmp_path, cipher)
    with db.session() as s:
        loan_no = dict(s.execute(select(Loan.id, Loan.loan_no)).all())
        apps = s.scalars(select(HardshipApplication).where(HardshipApplication.id.in_(stories.applications))).all()
        assert len(apps) == 3 and {a.status for a in apps} == {"submitted"}
        assert len({a.borrower_id for a in apps}) == 3 and all(a.filed_by.startswith("b") for a in apps)
        second = s.get(Negotiation, stories.second_round)
        offers = s.scalars(select(Offer).where(Offer.negotiation_id == second.id).order_by(Offer.seq)).all()
        assert second.status == "open" and [(o.party, o.status) for o in offers] == [
            ("borrower", "superseded"), ("institution", "open")]
        assert offers[1].counter_to_id == offers[0].id and offers[1].required_authority == "negotiator"
        pending = s.get(Offer, stories.pending_offer)
        assert (pending.status, pending.made_by, pending.required_authority) == (
            "pending_approval", "negotiator", "supervisor")
        signed, in_force = s.get(Agreement, stories.signed), s.get(Agreement, stories.in_force)
        assert (signed.status, signed.prepared_by) == ("borrower_signed", "negotiator")
        assert (in_force.status, in_force.countersigned_by) == ("countersigned", "supervisor")
        assert in_force.seq_from <= in_force.seq_to and in_force.executed_on == TODAY
        assert s.scalar(select(Case.close_reason).where(Case.loan_id == in_force.loan_id)) == "agreement_in_force"
        lc = s.get(LegalCase, stories.legal_case)
        assert (lc.status, lc.phase) == ("open", "judged")
        deadline = s.scalars(select(Deadline).where(Deadline.legal_case_id == lc.id, Deadline.status == "open")
                             .order_by(Deadline.due_on)).first()
        batch = s.get(WriteOffBatch, stories.writeoff_batch)
        assert batch.status == "proposed" and batch.proposed_by == "legal" and batch.loans > 0
        complaint = s.get(Complaint, stories.complaint)
        assert complaint.status == "open" and complaint.sla_due_on > TODAY
        story_loans = [a.loan_id for a in apps] + [second.loan_id, pending.loan_id, signed.loan_id,
                                                   in_force.loan_id, lc.loan_id, complaint.loan_id]
        assert len(set(story_loans)) == len(story_loans) == 9  # a loan of its own for each story
        own_loan = next(a.loan_id for a in apps if a.filed_by == borrower)
        in_force_desk = s.scalar(select(Negotiation.id).where(Negotiation.loan_id == in_force.loan_id))
        checked, problems = verify_events(s)
        assert problems == [] and checked > 0
        assert verify_agreements(s)[1] == []
        assert s.scalar(select(func.count()).select_from(Agreement)) == 2

    with make_client() as client:
        desk = _page(client, "negotiator", "/negotiations")
        assert all(loan_no[a.loan_id] in desk for a in apps)
        assert f"/negotiations/{second.id}" in desk and f"/negotiations/{pending.negotiation_id}" in desk
        rounds = _page(client, "negotiator", f"/negotiations/{second.id}")
        assert "已被替代" in rounds and "待对方答复" in rounds  # the borrower's proposal, our counter-offer
        assert "已生效" in _page(client, "negotiator", f"/negotiations/{in_force_desk}")
        approvals = _page(client, "supervisor", "/approvals")
        assert loan_no[pending.loan_id] in approvals and number(signed) in approvals
        assert number(in_force) not in approvals  # in force: nothing left to countersign
        legal = _page(client, "legal", "/legal")
        assert lc.court_case_no in legal and format_date(deadline.due_on, "zh-CN") in legal
        assert f"/writeoffs/{batch.id}" in _page(client, "supervisor", "/writeoffs")
        complaints = _page(client, "compliance", "/complaints")
        assert f"/complaints/{complaint.id}" in complaints and format_date(complaint.sla_due_on, "zh-CN") in complaints
        portal = _page(client, borrower, f"/portal/loans/{own_loan}")
        assert f"/portal/hardship/{next(a.id for a in apps if a.loan_id == own_loan)}" in portal


def _story_loans(data_dir) -> list[str]:
    """Each story's loan number, in the order demo.stories seeds them."""
    engine = make_engine(f"sqlite:///{data_dir / 'arrears.db'}")
    with Session(engine) as s:
        found = [s.scalars(select(Loan.loan_no).join(model, model.loan_id == Loan.id).order_by(model.id)).all()
                 for model in (HardshipApplication, Negotiation, Agreement, LegalCase, Complaint)]
    engine.dispose()
    return [no for group in found for no in group]


def test_the_same_seed_tells_the_same_stories(tmp_path):
    for run in ("a", "b"):
        settings = load_settings(tmp_path / run, f"sqlite:///{tmp_path / run / 'arrears.db'}")
        build_demo(settings, loans=150, business_date=TODAY, seed=5)
    assert _story_loans(tmp_path / "a") == _story_loans(tmp_path / "b")
    assert len(_story_loans(tmp_path / "a")) == 7 + 4 + 2 + 1 + 1  # applications, negotiations, agreements, …
