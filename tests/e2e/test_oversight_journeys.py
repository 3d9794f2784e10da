"""Oversight in a real browser (Debian's Chromium) against the real server over the demo portfolio as of 2026-11-20:
the supervisor, as checker, approves a write-off batch the legal officer proposed (maker-checker), and the
compliance officer records a borrower's credit-report objection and answers it with a corrected month (the
portal has no objection form: objections arrive by letter or phone and staff record them). The write-off batch
takes only the one loan furthest past due outside the demo's own batch (a narrowed copy of the rules), so the
other journeys keep their loans. Screenshots: test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from arrears.auth.service import principal_of
from arrears.credit.tables import CreditCorrection, CreditObjection
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.tables import Loan
from arrears.writeoff.policy import exit_policy
from arrears.writeoff.service import propose_write_off
from arrears.writeoff.tables import ExitItem, WriteOffBatch
from e2e.conftest import sign_in

TODAY = date(2026, 11, 20)




def _proposed_batch(demo) -> tuple[int, str]:
    """The legal officer (maker) proposes a batch under the rules narrowed to the loan furthest past due that the
    demo's own proposed batch (demo.stories: every loan the full rules select) does not hold."""
    with demo.session() as s:
        in_batch = select(ExitItem.loan_id).join(WriteOffBatch, WriteOffBatch.id == ExitItem.batch_id).where(
            ExitItem.batch_kind == "writeoff", WriteOffBatch.status == "proposed")
        dpd, classification, loan_no = s.execute(
            select(LoanDelinquency.dpd, LoanDelinquency.classification, Loan.loan_no)
            .join(Loan, Loan.id == LoanDelinquency.loan_id).where(Loan.status == "active", Loan.id.not_in(in_batch))
            .order_by(LoanDelinquency.dpd.desc(), Loan.id).limit(1)).one()
        rules = exit_policy().write_off.model_copy(update={"min_dpd": dpd, "classifications": (classification,),
                                                           "legal_outcomes": ()})
        policy = exit_policy().model_copy(update={"write_off": rules})
        batch = propose_write_off(s, principal=principal_of(s, demo.logins["legal"]), today=TODAY, policy=policy)
        s.commit()
        return batch.id, loan_no


def test_supervisor_approves_a_write_off_the_legal_officer_proposed(new_context, demo, screenshot):
    batch_id, loan_no = _proposed_batch(demo)
    page = new_context().new_page()
    sign_in(page, demo.logins["supervisor"], demo.password)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="核销与转让").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("核销与转让")
    row = page.locator("#writeoffs tr", has=page.get_by_role("link", name=f"{batch_id} 号"))
    expect(row).to_contain_text("已提出，待复核")
    expect(row).to_contain_text(demo.logins["legal"])
    screenshot(page, "writeoffs")

    row.get_by_role("link", name=f"{batch_id} 号").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"核销批次 {batch_id} 号")
    expect(page.get_by_role("link", name=loan_no)).to_be_visible()  # the loan the batch takes
    page.get_by_label("处理结果").select_option("reject")
    page.get_by_role("button", name="提交复核意见").click()  # a rejection needs its reason: refused next to it
    expect(page.locator("#decision-reason-error")).to_have_text("必填")
    screenshot(page, "writeoff-reason-required")

    page.get_by_label("处理结果").select_option("approve")
    page.get_by_role("button", name="提交复核意见").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("已批准并核销")
    expect(page.locator("dl")).to_contain_text(demo.logins["supervisor"])
    expect(page.locator("#decision")).to_have_count(0)  # decided: no form any more
    screenshot(page, "writeoff-approved")
    with demo.session() as s:
        batch = s.get(WriteOffBatch, batch_id)
        assert (batch.status, batch.proposed_by, batch.decided_by) == ("approved", "legal", "supervisor")
        loans = s.scalars(select(Loan.status).join(ExitItem, ExitItem.loan_id == Loan.id)
                          .where(ExitItem.batch_kind == "writeoff", ExitItem.batch_id == batch_id)).all()
        assert loans and all(status != "active" for status in loans)


def test_compliance_records_and_answers_a_credit_objection(new_context, demo, screenshot):
    loan, _ = demo.overdue_loan("consumer_loan", min_dpd=60)
    page = new_context().new_page()
    sign_in(page, demo.logins["compliance"], demo.password)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="征信异议").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("征信异议")

    page.get_by_label("贷款号").fill(loan.loan_no)
    page.get_by_label("受理日期（留空：今天）").fill("2026-11-10")
    page.get_by_role("button", name="登记异议").click()  # nothing disputed yet: refused next to the field
    expect(page.locator("#record-claim-error")).to_have_text("必填")
    page.get_by_label("借款人提出的异议").fill("九月已按时还款，征信却显示逾期，请核实更正。")
    page.get_by_role("button", name="登记异议").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("待处理")
    expect(page.locator("blockquote.words")).to_have_text("九月已按时还款，征信却显示逾期，请核实更正。")
    expect(page.get_by_text("2026年11月30日")).to_be_visible()  # 20 days to answer, in Chinese date format
    screenshot(page, "objection-recorded")

    page.get_by_label("答复（将告知借款人）").fill("经核实九月还款按时到账，已更正该月记录。")
    page.get_by_label(re.compile("更正的月份")).fill("2026/09 N")
    page.get_by_role("button", name="发送答复").click()  # a bad line is refused next to its field
    expect(page.locator("#answer-corrections-error")).to_be_visible()
    page.get_by_label(re.compile("更正的月份")).fill("2026-09 N")
    page.get_by_role("button", name="发送答复").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("异议成立")
    expect(page.get_by_text("2026-09 → N")).to_be_visible()
    screenshot(page, "objection-answered")

    page.goto(page.url + "?lang=en")  # the same page in English: dates in English too
    expect(page.get_by_role("heading", level=1)).to_contain_text("Upheld")
    expect(page.get_by_text("30 Nov 2026")).to_be_visible()
    screenshot(page, "objection-answered-en")
    with demo.session() as s:
        o = s.scalars(select(CreditObjection).where(CreditObjection.loan_id == loan.id)).one()
        assert (o.status, o.answered_on) == ("upheld", TODAY)
        assert [(c.month, c.code) for c in s.scalars(select(CreditCorrection)
                                                       .where(CreditCorrection.objection_id == o.id))] \
            == [(date(2026, 9, 1), "N")]
