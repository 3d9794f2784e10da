"""Beyond the phone, in a real browser (Debian's Chromium) on the small demo as of 2026-11-20: the collector
registers the borrower's spouse as a third party, is refused by the compliance guard when the message would
disclose the debt (the reason shown), schedules a field visit with a second collector and reports it with a
photo and the community committee, and sees the case's letters and notices. Screenshots:
test-artifacts/screenshots/field_*."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from arrears.auth.tables import User
from arrears.cases.tables import Case, FieldVisit, ThirdParty
from arrears.complaints.tables import Complaint
from arrears.loans.tables import Loan
from arrears.products.catalog import catalog
from arrears.queues.service import assign_open_tasks
from arrears.queues.tables import WorkTask
from e2e.conftest import sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SHANGHAI = ZoneInfo("Asia/Shanghai")




def _quiet_case(demo) -> int:
    """An open case on the demo collector's tasks, on a cn-bank product, of a borrower with no complaint (the
    collector journey takes the top priority and files one): the lowest priority."""
    bank = [code for code, p in catalog().products.items() if p.compliance_profile == "cn-bank"]
    with demo.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == demo.logins["collector"]))
        if not s.scalar(select(WorkTask.id).where(WorkTask.assignee_user_id == user_id).limit(1)):
            assign_open_tasks(s)
            s.commit()
        complained = select(Complaint.borrower_id)
        return s.scalars(select(Case.id).join(WorkTask, WorkTask.case_id == Case.id)
                         .join(Loan, Loan.id == Case.loan_id)
                         .where(WorkTask.assignee_user_id == user_id, WorkTask.status == "open", Case.status == "open",
                                Loan.product_code.in_(bank), Case.borrower_id.not_in(complained))
                         .order_by(WorkTask.priority, Case.id).limit(1)).one()


def test_field_collector_reaches_a_third_party_and_visits(new_context, demo, screenshot):
    case_id = _quiet_case(demo)
    page = new_context().new_page()
    sign_in(page, demo.logins["collector"], demo.password)  # one of the demo's two collectors
    page.goto(f"/cases/{case_id}")

    # A third party registered for the borrower: shown masked, with what the guard allows now.
    register = page.locator("#tp-form")
    register.get_by_role("button", name="登记").click()  # nothing filled: each field says what it needs
    expect(page.locator("#third_party-relation-error")).to_have_text("必填")
    expect(page.locator("#third_party-name-error")).to_have_text("必填")
    register = page.locator("#tp-form")
    register.get_by_label("关系").select_option("spouse")
    register.get_by_label("姓名").fill("林美华")
    register.get_by_label("手机").fill("13900001234")
    register.get_by_role("button", name="登记").click()
    expect(page.get_by_role("status")).to_contain_text("第三方联系人已登记")
    table = page.get_by_role("region", name="第三方联系人")
    expect(table).to_contain_text("配偶")
    expect(table).to_contain_text("林*华")
    screenshot(page, "third-party")

    # Telling the spouse about the debt is never allowed: refused with the guard's reason and rule.
    contact = page.locator("#tp-contact-form")
    contact.get_by_label("第三方", exact=True).select_option(label="配偶 · 林*华")
    contact.get_by_label("渠道").select_option("call")
    contact.get_by_label("目的").select_option("locate")
    contact.get_by_label("所说或留言的内容（将检查：不得提及债务）").fill("请转告他尽快还款，他的贷款已经逾期")
    contact.get_by_role("button", name="登记联系").click()
    refusal = page.locator("#refusal")
    expect(refusal).to_contain_text("合规检查拒绝了这次联系")
    expect(refusal.locator("code")).to_have_text("third_party.disclosure")
    screenshot(page, "third-party-refused")

    # A visit tomorrow at 10:00 (Beijing time) with a second collector, then its report with a photo.
    when = (datetime.now(SHANGHAI) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    visit = page.locator("#visit-form")
    visit.get_by_label("时间（北京时间）").fill(when.strftime("%Y-%m-%dT%H:%M"))
    visit.get_by_label("地址").select_option("home")
    partner = "赵催收 (collector)" if demo.logins["collector"] == "collector2" else "钱催收 (collector2)"
    visit.get_by_label("第二名催收员").select_option(label=partner)
    visit.get_by_role("button", name="安排外访").click()
    expect(page.get_by_role("status")).to_contain_text("外访已安排")
    visits = page.get_by_role("region", name="外访")
    expect(visits).to_contain_text(f"{when.year}年{when.month}月{when.day}日 10:00")
    expect(visits).to_contain_text(re.compile(r"(赵|钱)催收, (赵|钱)催收"))  # the two collectors
    screenshot(page, "visit-scheduled")

    with demo.session() as s:
        visit_id = s.scalars(select(FieldVisit.id).where(FieldVisit.case_id == case_id)).one()
    page.locator("details.schedule summary", has_text="报告或取消").click()
    report = page.locator(f"#report-{visit_id}-form")
    report.get_by_label("联系结果").select_option("right_party")
    report.get_by_label("发生了什么").fill("见到借款人本人，说明了还款渠道和协商方式。")
    report.get_by_label("证据文件（照片、录音录像、签字单据）").set_input_files(
        {"name": "门牌.png", "mimeType": "image/png", "buffer": PNG})
    report.get_by_label("社区居委会或村委会参与").check()
    report.get_by_role("button", name="提交外访报告").click()  # no recording reference: refused next to it
    expect(page.locator(f"#report-{visit_id}-recording_ref-error")).to_have_text("必填")
    expect(page.locator(f"#report-{visit_id}-committee_name-error")).to_be_visible()
    screenshot(page, "visit-report-errors")
    report = page.locator(f"#report-{visit_id}-form")
    report.get_by_label("录音编号（上门催收须录音录像）").fill("REC-20261121-01")
    report.get_by_label("居委会/村委会").fill("幸福里社区居委会")
    report.get_by_label("证据文件（照片、录音录像、签字单据）").set_input_files(
        {"name": "门牌.png", "mimeType": "image/png", "buffer": PNG})
    report.get_by_role("button", name="提交外访报告").click()
    expect(page.get_by_role("status")).to_contain_text("外访报告已提交")
    expect(visits).to_contain_text("已报告")
    expect(visits).to_contain_text("幸福里社区居委会 参与")
    expect(page.locator("#documents")).to_contain_text("上门取证材料")
    expect(page.get_by_role("heading", name="信函与通知")).to_be_visible()
    screenshot(page, "visit-reported")
    with demo.session() as s:
        v = s.get(FieldVisit, visit_id)
        assert (v.status, v.recording_ref, v.committee_name) == ("reported", "REC-20261121-01", "幸福里社区居委会")
        assert [e["type"] for e in v.evidence] == ["image/png"]
        assert s.scalars(select(ThirdParty.relation).where(ThirdParty.borrower_id == v.borrower_id)).all() == ["spouse"]
