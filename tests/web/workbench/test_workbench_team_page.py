"""/work/team on both backends: load per collector, reassigning a task (team and skills checked, override with
a reason) under its version, and who may use it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.queues.tables import WorkTask

pytestmark = pytest.mark.business_date("2026-03-10")


def _task(db, world) -> WorkTask:
    with db.session() as s:
        task = s.scalars(select(WorkTask).where(WorkTask.case_id == world.cases["tasked"])).one()
        s.expunge(task)
        return task


def test_only_supervisors(site):
    site.login("col1")
    assert site.get("/work/team").status_code == 403
    assert site.post("/work/team/tasks/1/reassign", data={"to_user_id": "1", "version": "1"}).status_code == 403


def test_load_per_collector(site, monkeypatch):
    site.login("sup1")
    page = site.get("/work/team?team=phone").text
    # teams.yaml's phone team lists `collector` and `collector2`, who are not users here; the task is col1's
    assert "电话催收组" in page and "待办任务" in page and "COL1" in page
    assert f'href="/cases/{site.world.cases["tasked"]}"' in page


def test_reassign_checks_the_team_then_override_with_a_reason(site, db):
    w, task = site.world, _task(db, site.world)
    site.login("sup1")
    data = {"team": "phone", "to_user": "nobody", "version": str(task.version)}
    r = site.post(f"/work/team/tasks/{task.id}/reassign", data=data)
    assert r.status_code == 400 and "没有使用该用户名的在岗催收员" in r.text and 'value="nobody"' in r.text
    data["to_user"] = " COL2 "  # the username as picked from the page's list (or typed)
    r = site.post(f"/work/team/tasks/{task.id}/reassign", data=data)
    assert r.status_code == 400 and "此人不在该任务所属小组" in r.text
    r = site.post(f"/work/team/tasks/{task.id}/reassign", data={**data, "override": "1"})
    assert r.status_code == 400 and "强制改派须填写理由" in r.text
    r = site.post(f"/work/team/tasks/{task.id}/reassign", data={**data, "override": "1", "reason": "休假替班"},
                  follow_redirects=False)
    assert r.status_code == 303
    assert _task(db, w).assignee_user_id == w.users["col2"]
    with db.session() as s:
        assert s.scalar(select(Event.action).where(Event.subject_type == "work_task",
                                                   Event.subject_id == str(task.id))) == "task.override"
    stale = site.post(f"/work/team/tasks/{task.id}/reassign", data={**data, "override": "1", "reason": "again"})
    assert stale.status_code == 409 and "其他人已修改了这项任务" in stale.text
    assert _task(db, w).assignee_user_id == w.users["col2"]
    by_id = {"team": "phone", "to_user_id": str(w.users["col1"]), "version": str(_task(db, w).version),
             "override": "1", "reason": "回原处"}  # a form posted with an id still works
    assert site.post(f"/work/team/tasks/{task.id}/reassign", data=by_id, follow_redirects=False).status_code == 303
    assert _task(db, w).assignee_user_id == w.users["col1"]
    by_id.update(to_user_id=str(w.users["col2"]), version=str(_task(db, w).version))
    assert site.post(f"/work/team/tasks/{task.id}/reassign", data=by_id, follow_redirects=False).status_code == 303
    site.post("/logout")
    site.login("col2")  # the task's case is now in col2's queue
    assert re.findall(r'<a href="/cases/\d+">(L\d+)</a>', site.get("/work").text) == ["L2", "L4"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # markup does not depend on the database
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_workbench_pages_label_every_field_and_keep_the_skip_link(site, lang):
    from web.test_i18n import _parse  # the same checks test_i18n makes of the shared pages

    site.cookies.set("lang", lang)
    site.login("sup1")
    w = site.world
    pages = {"queue": site.get("/work").text, "team": site.get("/work/team").text,
             "case": site.get(f"/cases/{w.cases['owned']}").text,
             "promise errors": site.post(f"/cases/{w.cases['owned']}/promise", data={"amount": "x"}).text}
    for name, html in pages.items():
        page = _parse(html)
        assert page.lang == lang.replace("_", "-"), name
        assert page.focusable[0].get("class") == "skip-link", name
        unlabelled = [f for f in page.fields if f.get("id") not in page.labels and not f.get("aria-label")]
        assert unlabelled == [], name
        assert page.col_headers_without_scope == 0, name
        assert [r for r in page.refs if r.startswith(("http:", "https:", "//"))] == [], name


def _crowd(db, world, collectors: int = 300, tasks: int = 100) -> None:
    """``collectors`` more collectors (display names as long as real ones) and ``tasks`` open tasks of the phone
    team, each on its own business date of the tasked case (one task per case and date)."""
    from datetime import date, timedelta

    from arrears.auth.tables import User

    with db.session() as s:
        hash_ = s.get(User, world.users["col1"]).password_hash  # no argon2 per row: nobody signs in as them
        s.add_all(User(username=f"collector{i:03d}", display_name=f"催收员{i:03d}号", password_hash=hash_,
                       role="collector", team="phone") for i in range(collectors))
        s.add_all(WorkTask(case_id=world.cases["tasked"], loan_id=world.loans["tasked"],
                           borrower_id=world.borrowers["tasked"], business_date=date(2025, 1, 1) + timedelta(days=i),
                           kind="call", team="phone", language="zh-CN", product_code="consumer_loan", stage="phone",
                           rule="r1", status="open") for i in range(tasks - 1))
        s.commit()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # markup does not depend on the database
def test_team_page_lists_the_collectors_once(site, db):
    """300 collectors, 100 open tasks: every reassignment control shares one list of the people (docs/performance.md,
    "/work/team with 300 collectors")."""
    _crowd(db, site.world)
    import gzip
    import time

    site.login("sup1")
    site.get("/work/team?team=phone")  # warm: templates compiled
    started = time.perf_counter()
    page = site.get("/work/team?team=phone")
    took = time.perf_counter() - started
    size = len(page.content)
    print(f"\n/work/team, 300 collectors + 3 users, 100 open tasks: {size:,} bytes "
          f"({len(gzip.compress(page.content)):,} gzipped) in {took * 1000:.0f} ms")
    assert page.text.count("collector123") == 1  # in the shared list only
    assert page.text.count('class="reassign"') == 100
    assert size < 200_000  # 1,855,725 bytes when every row repeated the 303 <option>s
