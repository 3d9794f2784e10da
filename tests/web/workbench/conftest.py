"""Fixtures of the workbench page tests: the world (``workbench_world``), a client over it, the page's clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from workbench_world import NOON, PHONE, TODAY, World, _state

from arrears.auth import service as auth
from arrears.cases.tables import Case
from arrears.privacy import PersonalDataCipher
from arrears.queues.tables import WorkTask
from arrears.web.workbench import case_pages
from support import PASSWORD, add_borrower, add_small_loan


@pytest.fixture
def clock(monkeypatch):
    """``clock(at)``: the time the case page stands at (default noon in Shanghai)."""
    def set_to(at: datetime) -> None:
        monkeypatch.setattr(case_pages, "now", lambda: at)
    set_to(NOON)
    return set_to


@pytest.fixture
def world(db, secret_key, clock) -> World:
    cipher = PersonalDataCipher(secret_key)
    with db.session() as s:
        users = {}
        for name, role, team in (("col1", "collector", "phone"), ("col2", "collector", "field"),
                                 ("sup1", "supervisor", "phone")):
            users[name] = auth.create_user(s, username=name, display_name=name.upper(), password=PASSWORD,
                                           role=role, actor="setup", team=team).id
        borrowers, loans, cases = {}, {}, {}
        # (case key, owner, team, dpd, overdue fen, bucket)
        for i, (key, owner, team, dpd, overdue, bucket) in enumerate((
                ("owned", "col1", None, 30, 60_900, "M1"), ("tasked", None, None, 90, 20_000, "M3"),
                ("team", None, "phone", 5, 90_000, "M1"), ("other", "col2", "field", 60, 50_000, "M2")), 1):
            b = add_borrower(s, f"B{i}", "王小明" if i == 1 else f"李{i}", id_number=f"11010119900307{i:04d}",
                             phone=PHONE, cipher=cipher)
            loan = add_small_loan(s, b, f"L{i}")
            case = Case(loan_id=loan.id, borrower_id=b.id, stage="phone", status="open", opened_on=TODAY,
                        next_action="call the borrower", next_action_due=date(2026, 3, 10 + i), team=team,
                        owner_user_id=users[owner] if owner else None)
            s.add(case)
            s.flush()
            _state(s, loan, dpd, overdue, bucket)
            borrowers[key], loans[key], cases[key] = b.id, loan.id, case.id
        s.add(WorkTask(case_id=cases["tasked"], loan_id=loans["tasked"], borrower_id=borrowers["tasked"],
                       business_date=TODAY, kind="call", team="phone", language="zh-CN",
                       product_code="consumer_loan", stage="phone", rule="r1", status="open",
                       assignee_user_id=users["col1"], priority=12_000))  # propensity × overdue: first by default
        users["wangxm"] = auth.create_user(s, username="wangxm", display_name="王小明", password=PASSWORD,
                                           role="borrower", actor="setup", borrower_id=borrowers["owned"]).id
        s.commit()
    return World(users, cases, borrowers, loans)


@pytest.fixture
def site(world, make_client):
    with make_client() as client:
        client.world = world  # type: ignore[attr-defined]
        yield client
