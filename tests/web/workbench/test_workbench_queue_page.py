"""/work on both backends: a collector's own queue (owned cases and assigned tasks, nobody else's), sorting,
filters, keyset paging, a supervisor's team and collector views, and who may not see it."""

from __future__ import annotations

import re

import pytest

from arrears.cases import flags
from arrears.web.workbench import queue_query

pytestmark = pytest.mark.business_date("2026-03-10")


def loans_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/cases/\d+">(L\d+)</a>', html)


def test_a_collector_sees_owned_cases_and_tasks_and_nothing_else(site):
    site.login("col1")
    r = site.get("/work")
    assert r.status_code == 200
    # default order: the open task's priority (propensity × amount overdue), cases without a task last
    assert loans_listed(r.text) == ["L2", "L1"]
    assert "L4" not in loans_listed(r.text) and "L3" not in loans_listed(r.text)
    assert "2 个案件" in r.text


@pytest.mark.parametrize(("sort", "order"), [("priority", ["L2", "L1"]), ("dpd", ["L2", "L1"]), ("overdue", ["L1", "L2"]),
                                             ("next_action", ["L1", "L2"])])
def test_sorting(site, sort, order):
    site.login("col1")
    assert loans_listed(site.get(f"/work?sort={sort}").text) == order


def test_filters_by_bucket_product_and_flag(site, db):
    site.login("col1")
    assert loans_listed(site.get("/work?bucket=M3").text) == ["L2"]
    assert loans_listed(site.get("/work?product=consumer_loan").text) == ["L2", "L1"]
    assert loans_listed(site.get("/work?product=credit_card").text) == []
    assert loans_listed(site.get("/work?flag=do_not_contact").text) == []
    with db.session() as s:
        flags.set_do_not_contact(s, borrower_id=site.world.borrowers["owned"], on=True, reason="本人要求",
                                 actor="setup")
        s.commit()
    r = site.get("/work?flag=do_not_contact")
    assert loans_listed(r.text) == ["L1"] and "勿联系" in r.text


def test_keyset_paging_walks_every_row_once(site, monkeypatch):
    monkeypatch.setattr(queue_query, "PAGE", 1)
    site.login("sup1")
    seen, url = [], "/work?team=phone"
    page = site.get(url).text
    seen += loans_listed(page)
    while (m := re.search(r'href="\?([^"]+)" rel="next"', page)):
        page = site.get("/work?" + m.group(1).replace("&amp;", "&")).text
        seen += loans_listed(page)
        assert len(seen) < 10
    assert seen == ["L2", "L3"]  # the team's tasks and cases: 90 then 5 days past due


def test_a_supervisor_picks_a_collector(site):
    site.login("sup1")
    col2 = site.world.users["col2"]
    assert loans_listed(site.get(f"/work?collector={col2}").text) == ["L4"]
    assert loans_listed(site.get(f"/work?collector={site.world.users['col1']}").text) == ["L2", "L1"]


def test_a_collector_cannot_widen_the_scope(site):
    site.login("col1")
    assert loans_listed(site.get(f"/work?collector={site.world.users['col2']}").text) == ["L2", "L1"]
    assert loans_listed(site.get("/work?team=field").text) == ["L2", "L1"]


def test_borrowers_and_strangers_do_not_get_the_queue(site):
    assert site.get("/work", follow_redirects=False).headers["location"] == "/login"
    site.login("wangxm")
    assert site.get("/work", follow_redirects=False).headers["location"] == "/portal"


def test_english(site):
    site.login("col1")
    r = site.get("/work?lang=en")
    assert "My work" in r.text and "2 cases" in r.text and "Days past due" in r.text


def test_collection_stopped_and_promise_due_flags(site, db):
    from arrears.cases.tables import PromiseToPay

    w = site.world
    with db.session() as s:
        flags.set_collection_stopped(s, borrower_id=w.borrowers["tasked"], on=True, reason="个性化分期", actor="setup")
        s.add(PromiseToPay(case_id=w.cases["owned"], loan_id=w.loans["owned"], borrower_id=w.borrowers["owned"],
                           amount_fen=10_000, promised_on=queue_query.date(2026, 3, 1),
                           due_on=queue_query.date(2026, 3, 10), status="open", paid_fen=0))
        s.commit()
    site.login("col1")
    assert loans_listed(site.get("/work?flag=collection_stopped").text) == ["L2"]
    r = site.get("/work?flag=promise_due")
    assert loans_listed(r.text) == ["L1"] and '<span class="tag due">承诺到期</span>' in r.text


def test_a_team_queue_sorts_only_in_an_indexed_order(site):
    site.login("sup1")
    r = site.get("/work?team=phone&sort=overdue")
    assert loans_listed(r.text) == ["L2", "L3"]  # by days past due: 90 then 5
    assert '<option value="overdue"' not in r.text and '<option value="dpd" selected' in r.text


def test_the_default_order_is_the_tasks_priority_not_days_past_due(site, db):
    from arrears.queues.tables import WorkTask

    w = site.world
    with db.session() as s:  # L1 (30 days) gets a task worth more than L2's (90 days)
        s.add(WorkTask(case_id=w.cases["owned"], loan_id=w.loans["owned"], borrower_id=w.borrowers["owned"],
                       business_date=s.get(WorkTask, 1).business_date, kind="call", team="phone",
                       language="zh-CN", product_code="consumer_loan", stage="phone", rule="r1", status="open",
                       assignee_user_id=w.users["col1"], priority=50_000))
        s.commit()
    site.login("col1")
    assert loans_listed(site.get("/work").text) == ["L1", "L2"]
    assert loans_listed(site.get("/work?sort=dpd").text) == ["L2", "L1"]
