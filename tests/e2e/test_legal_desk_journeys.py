"""The complaint desk and the legal officer in a real browser (Debian's Chromium) against the real server over the
demo portfolio as of 2026-11-20. The demo's own complaint and legal case (demo.stories) are left alone: each
journey makes what it needs through the services first (a complaint filed by complaints.service; a collection case
taken to law by cases.service and legal.service). Screenshots: test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy import select

from arrears.cases.service import move_stage
from arrears.cases.tables import Case
from arrears.complaints.service import file_complaint
from arrears.complaints.tables import Complaint
from arrears.delinquency.tables import LoanDelinquency
from arrears.legal.service import open_legal_case
from arrears.legal.tables import Hearing, LegalCase
from arrears.loans.tables import Loan
from e2e.conftest import sign_in

TODAY = datetime(2026, 11, 20).date()
TO_LEGAL = {"preparation": ["reminder", "phone"], "reminder": ["phone"], "phone": [], "field_visit": []}




def _open_cases(demo, skip: int) -> Case:
    """An open collection case the other journeys do not use: they take the loans fewest days past due, these
    the most (``skip`` from the top)."""
    with demo.session() as s:
        case = s.scalars(select(Case).join(LoanDelinquency, LoanDelinquency.loan_id == Case.loan_id)
                         .where(Case.status == "open", Case.stage.in_(TO_LEGAL))
                         .order_by(LoanDelinquency.dpd.desc(), Case.id).offset(skip).limit(1)).one()
        s.expunge_all()
        return case


def test_complaint_officer_takes_on_and_resolves_a_complaint(new_context, demo, screenshot):
    case = _open_cases(demo, 0)
    with demo.session() as s:
        complaint = file_complaint(s, cipher=demo.cipher, borrower_id=case.borrower_id, category="harassment",
                                   channel="phone", text="催收员晚上十点以后还在打电话", case_id=case.id,
                                   filed_at=datetime(2026, 11, 18, 3, 0, tzinfo=UTC), actor="e2e-setup")
        s.commit()
        cid = complaint.id
    page = new_context().new_page()
    sign_in(page, demo.logins["compliance"], demo.password)
    page.get_by_role("link", name="投诉处理台").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("投诉处理台")
    row = page.locator("tr", has=page.get_by_role("link", name=f"{cid} 号"))
    expect(row).to_contain_text("催收骚扰")
    expect(row).to_contain_text("待处理")
    screenshot(page, "complaint-desk")

    row.get_by_role("link", name=f"{cid} 号").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"投诉 {cid} 号")
    expect(page.locator("blockquote.words")).to_have_text("催收员晚上十点以后还在打电话")
    expect(page.get_by_text("个人信息已按您的角色脱敏")).to_be_visible()  # compliance sees no identities
    screenshot(page, "complaint-open")
    page.get_by_role("button", name="由我受理（转为处理中）").click()
    expect(page.get_by_text("这件投诉由您处理。")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("处理中")

    page.get_by_role("button", name="办结投诉").click()  # no resolution yet: refused next to the field
    expect(page.locator("#close-resolution-error")).to_have_text("必填")
    screenshot(page, "complaint-resolution-required")
    page.get_by_label("处理意见（将告知借款人）").fill("已核实通话记录，向借款人致歉，并提醒催收员遵守联系时段。")
    page.get_by_label("处理结果").select_option("resolved")
    page.get_by_role("button", name="办结投诉").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("已解决")
    expect(page.get_by_text("无：投诉已办结。")).to_be_visible()
    screenshot(page, "complaint-resolved")
    with demo.session() as s:
        assert s.get(Complaint, cid).status == "resolved"


def test_legal_officer_files_a_claim_and_records_a_hearing(new_context, demo, screenshot):
    case = _open_cases(demo, 1)
    with demo.session() as s:
        for stage in TO_LEGAL[case.stage]:
            case = move_stage(s, case_id=case.id, to_stage=stage, actor="e2e-setup", reason="多次联系无果",
                              expected_version=case.version, today=TODAY)
        lc = open_legal_case(s, case_id=case.id, expected_case_version=case.version, actor="e2e-setup",
                             reason="转法务诉讼", today=TODAY)
        s.commit()
        lc_id, loan_no = lc.id, s.get(Loan, lc.loan_id).loan_no
    page = new_context().new_page()
    sign_in(page, demo.logins["legal"], demo.password)
    page.get_by_role("link", name="法务", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("诉讼案件")
    screenshot(page, "legal-cases")
    page.get_by_role("link", name=f"{lc_id} 号").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"诉讼案件 {lc_id} 号")
    expect(page.get_by_role("link", name=loan_no)).to_be_visible()

    page.get_by_label("法院", exact=True).fill("北京市朝阳区人民法院")
    page.get_by_label("法院案号", exact=True).fill("(2026)京0105民初1234号")
    page.get_by_label("律师事务所", exact=True).fill("示范律师事务所")
    page.get_by_label("律师", exact=True).fill("王律师")
    page.get_by_label("立案日期").fill("2026-11-20")
    claim = page.get_by_label("诉讼请求金额（元）")
    claim.fill("12.345")
    page.get_by_role("button", name="登记立案").click()
    expect(page.locator("#filing-claim-error")).to_contain_text("最多两位小数")
    expect(page.get_by_label("法院", exact=True)).to_have_value("北京市朝阳区人民法院")  # typed values kept
    screenshot(page, "legal-filing-refused")
    page.get_by_label("诉讼请求金额（元）").fill("12,345.67")
    page.get_by_role("button", name="登记立案").click()
    expect(page.locator("#filing")).to_contain_text("12,345.67 元")
    expect(page.locator("#filing")).to_contain_text("2026年11月20日")

    hearing = page.locator("#hearings form")
    hearing.get_by_label("日期").fill("2026-11-20")
    hearing.get_by_label("类型").select_option("mediation")
    hearing.get_by_label("备注").fill("双方到庭，同意诉前调解")
    hearing.get_by_role("button", name="登记庭审").click()
    expect(page.locator("#hearings table")).to_contain_text("调解")
    expect(page.locator("#hearings table")).to_contain_text("双方到庭，同意诉前调解")
    screenshot(page, "legal-hearing-recorded")
    with demo.session() as s:
        assert s.get(LegalCase, lc_id).phase == "filed"
        assert [h.kind for h in s.scalars(select(Hearing).where(Hearing.legal_case_id == lc_id))] == ["mediation"]
