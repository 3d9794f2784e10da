"""The collector's day in a real browser (Debian's Chromium) on the small demo as of 2026-11-20: the queue,
the top case, the compliance guard's answer, a contact, a promise to pay on the timeline, the contact
freeze an open complaint puts on the case, and a notice previewed and sent by hand from a case. Screenshots: test-artifacts/screenshots/workbench_*.

The demo's end of day runs before its sign-ins exist, so the strategy's tasks wait unassigned; the setup
assigns them through ``queues.service.assign_open_tasks`` (what the next end of day would do)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import func, select

from arrears.auth.tables import User
from arrears.cases.tables import Case
from arrears.complaints import service as complaints
from arrears.loans.tables import Borrower, Loan
from arrears.queues.service import assign_open_tasks
from arrears.queues.tables import WorkTask
from e2e.conftest import BUSINESS_DATE, sign_in

QUEUE_LINK = re.compile(r"/cases/(\d+)$")




def _collector_has_work(demo) -> int:
    """The demo collector's open tasks, after assigning the waiting ones if they had none."""
    with demo.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == demo.logins["collector"]))
        held = select(func.count()).select_from(WorkTask).where(WorkTask.assignee_user_id == user_id,
                                                                 WorkTask.status == "open")
        if not s.scalar(held):
            assign_open_tasks(s)
            s.commit()
        return s.scalar(held) or 0


def _top_priority(demo) -> int:
    """The highest priority among the demo collector's open tasks."""
    with demo.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == demo.logins["collector"]))
        return s.scalar(select(func.max(WorkTask.priority)).where(WorkTask.assignee_user_id == user_id,
                                                                   WorkTask.status == "open"))


def _priority_of(demo, loan_no: str) -> int:
    with demo.session() as s:
        return s.scalar(select(func.max(WorkTask.priority)).join(Loan, Loan.id == WorkTask.loan_id)
                        .where(Loan.loan_no == loan_no, WorkTask.status == "open")) or 0


def test_workbench_collector_works_a_case(new_context, demo, screenshot):
    assert _collector_has_work(demo) > 0, "the demo collector has no cases even after assigning open tasks"
    page = new_context().new_page()
    sign_in(page, demo.logins["collector"], demo.password)

    # The queue: the collector's own cases, highest priority (propensity to pay × amount overdue) first …
    page.get_by_role("link", name="我的工作").click()
    page.wait_for_url("**/work")
    expect(page.get_by_role("heading", level=1)).to_contain_text("我的工作")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() >= 1
    assert _priority_of(demo, rows.first.get_by_role("link").inner_text()) == _top_priority(demo)
    screenshot(page, "queue")
    # … or, on request, most days past due first.
    page.goto("/work?sort=dpd")
    dpds = [int(t) for t in page.locator("table.queue tbody tr td:nth-child(4)").all_inner_texts() if t.isdigit()]
    assert dpds == sorted(dpds, reverse=True), dpds

    # The top case: masked identity, the guard's answer for each channel, now.
    top = rows.first.get_by_role("link")
    loan_no = top.inner_text()
    top.click()
    page.wait_for_url(QUEUE_LINK)
    case_id = int(QUEUE_LINK.search(page.url).group(1))
    expect(page.get_by_role("heading", level=1)).to_contain_text(loan_no)
    expect(page.get_by_text("个人信息已按您的角色脱敏显示。")).to_be_visible()
    guard = page.get_by_role("region", name="合规检查：现在可以怎样联系")
    expect(guard).to_be_visible()
    answers = guard.locator("tbody td").all_inner_texts()  # channels × purposes
    assert len(answers) == 18 and all(a == "允许" or a.startswith("拒绝") for a in answers), answers
    screenshot(page, "case-guard")

    # A phone call that was not answered: recorded, or refused by the guard with its rule shown.
    form = page.locator("#contact-form")
    form.get_by_label("渠道").select_option("call")
    form.get_by_label("目的").select_option("collect")
    form.get_by_label("联系结果").select_option("no_answer")
    form.get_by_role("button", name="登记联系").click()
    page.wait_for_load_state()
    refusal = page.locator("#refusal")
    if refusal.count():
        expect(refusal).to_contain_text("合规检查拒绝了这次联系")
        assert re.search(r"[a-z_.]+", refusal.locator("code").inner_text())
    else:
        expect(page.get_by_role("status")).to_contain_text("联系已登记")
        expect(page.locator("#contacts tbody tr").first).to_contain_text("无人接听")
    screenshot(page, "contact")

    # A promise to pay in yuan by a date: on the promises list and the timeline (unless the guard refuses
    # the call it was made in — then the rule is next to the form and nothing is promised).
    promise = page.locator("#promise-form")
    promise.get_by_label("金额（元）").fill("300.00")
    promise.get_by_label("承诺还款日期").fill((BUSINESS_DATE + timedelta(days=5)).isoformat())
    promise.get_by_role("button", name="登记承诺").click()
    page.wait_for_load_state()
    if page.locator("#refusal").count():
        expect(page.locator("#refusal code")).to_be_visible()
    else:
        expect(page.get_by_role("status")).to_contain_text("还款承诺已登记")
        expect(page.locator("#promises tbody tr").first).to_contain_text("300.00")
        expect(page.locator("#timeline")).to_contain_text("promise.made")
    screenshot(page, "promise-and-timeline")

    # An open complaint freezes contact: the case page says so and the form is refused with the rule.
    with demo.session() as s:
        borrower_id = s.get(Case, case_id).borrower_id
        complaint = complaints.file_complaint(s, cipher=demo.cipher, borrower_id=borrower_id, category="harassment",
                                              channel="phone", text="催收电话太频繁", actor="e2e",
                                              filed_at=datetime.now(UTC))
        s.commit()
        complaint_id, version = complaint.id, complaint.version
    try:
        page.goto(f"/cases/{case_id}")
        expect(page.locator(".flags")).to_contain_text("有未结投诉：暂停联系")
        guard_text = page.get_by_role("region", name="合规检查：现在可以怎样联系").inner_text()
        assert "open_complaint" in guard_text
        form = page.locator("#contact-form")
        form.get_by_label("渠道").select_option("sms")
        form.get_by_label("目的").select_option("collect")
        form.get_by_role("button", name="登记联系").click()
        page.wait_for_load_state()
        expect(page.locator("#refusal")).to_contain_text("合规检查拒绝了这次联系")
        expect(page.locator("#refusal code")).to_have_text("open_complaint")
        screenshot(page, "complaint-freeze")
    finally:  # the demo is shared by the session's journeys: resolve the complaint again
        with demo.session() as s:
            complaints.close_complaint(s, cipher=demo.cipher, complaint_id=complaint_id, status="resolved",
                                       resolution="e2e", expected_version=version, actor="e2e",
                                       at=datetime.now(UTC))
            s.commit()


def _case_with_letters(demo) -> int:
    """One of the demo collector's open cases at a stage that sends letters by hand (moved there from preparation
    through the service if none is)."""
    from arrears.cases import service as cases

    _collector_has_work(demo)
    with demo.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == demo.logins["collector"]))
        mine = (select(Case).join(WorkTask, WorkTask.case_id == Case.id)
                .where(WorkTask.assignee_user_id == user_id, WorkTask.status == "open", Case.status == "open")
                .order_by(Case.id))
        case = s.scalars(mine.where(Case.stage.in_(("reminder", "phone", "field_visit")))).first()
        if case is None:
            case = s.scalars(mine.where(Case.stage == "preparation")).first()
            cases.move_stage(s, case_id=case.id, to_stage="reminder", actor="e2e", reason="e2e: send a notice",
                             expected_version=case.version, today=BUSINESS_DATE)
            s.commit()
        return case.id


def test_workbench_collector_sends_a_notice_from_the_case(new_context, demo, screenshot):
    case_id = _case_with_letters(demo)
    with demo.session() as s:
        name = demo.cipher.decrypt(s.get(Borrower, s.get(Case, case_id).borrower_id).name_enc)
    page = new_context().new_page()
    sign_in(page, demo.logins["collector"], demo.password)
    page.goto(f"/cases/{case_id}")

    # Choose a template the stage allows and preview it: Chinese first, the borrower's name masked for a collector.
    form = page.locator("#letter-form")
    form.get_by_label("模板").select_option("overdue_notice")
    form.get_by_label("渠道").select_option("sms")
    expect(form.get_by_label("信函语言")).to_have_value("zh-CN")
    form.get_by_role("button", name="预览").click()
    preview = page.locator("#letter-preview")
    expect(preview).to_contain_text("逾期还款通知")
    assert name not in preview.inner_text() and "*" in preview.inner_text()
    # … and in English.
    page.locator("#letter-form").get_by_label("信函语言").select_option("en")
    page.locator("#letter-form").get_by_role("button", name="预览").click()
    expect(page.locator("#letter-preview")).to_contain_text("overdue payment notice")
    expect(page.locator("#letter-preview pre")).to_have_attribute("lang", "en")
    screenshot(page, "letter-preview")

    # Send it: queued in the outbox and listed on the case, or refused by the guard with its rule (the hour the
    # journey runs at may be the borrower's quiet hours) — on the timeline either way.
    page.locator("#letter-send-form").get_by_role("button", name="发送").click()
    page.wait_for_load_state()
    refusal = page.locator("#refusal")
    if refusal.count():
        expect(refusal).to_contain_text("合规检查拒绝了这次联系")
        assert re.fullmatch(r"[a-z_.]+", refusal.locator("code").inner_text())
        expect(page.locator("#timeline")).to_contain_text("letter.refused")
    else:
        expect(page.get_by_role("status")).to_contain_text("信函已进入发件队列")
        expect(page.locator("#letters tbody tr").first).to_contain_text("逾期通知")
        expect(page.locator("#timeline")).to_contain_text("letter.queued")
    screenshot(page, "letter-sent")


def test_workbench_supervisor_reassigns_a_task_from_the_one_list(new_context, demo, screenshot):
    """/work/team sends the people once (one <datalist>); a row's field suggests from it and posts the username."""
    _collector_has_work(demo)
    page = new_context().new_page()
    sign_in(page, demo.logins["supervisor"], demo.password)
    page.goto("/work/team")
    expect(page.locator("datalist")).to_have_count(1)
    expect(page.locator(f'datalist#assignable option[value="{demo.logins["collector"]}"]')).to_have_count(1)
    row = page.locator("#tasks tbody tr").first
    field = row.get_by_label("改派给（用户名）")
    expect(field).to_have_attribute("list", "assignable")
    field.fill("nobody")
    row.get_by_role("button", name="改派").click()
    page.wait_for_load_state()
    row = page.locator("#tasks tbody tr").first
    expect(row).to_contain_text("没有使用该用户名的在岗催收员")  # next to the field, the typed value kept
    expect(row.get_by_label("改派给（用户名）")).to_have_value("nobody")
    row.get_by_label("改派给（用户名）").fill(demo.logins["collector"])
    row.get_by_role("button", name="改派").click()
    page.wait_for_url(re.compile(r"done=reassigned"))
    expect(page.get_by_role("status")).to_be_visible()
    screenshot(page, "team-reassigned")
