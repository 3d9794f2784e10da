"""The borrower's journey on a phone (390×844) in a real browser: sign in with a one-time code read from the outbox,
see what is owed, apply for hardship with an upload; a negotiator's offer (made through the services) compared
and accepted; the agreement (prepared and sent through the services) signed with its code and, once the bank
countersigns, the plan's first instalment paid and shown; a complaint filed and its status seen. Screenshots at
each step in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from arrears.agreements import service as agreements
from arrears.agreements import signing
from arrears.auth.model import Principal, Role
from arrears.auth.tables import User
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.payments import instalment_balance, post_payment
from arrears.loans.tables import Borrower, Instalment, Loan
from arrears.negotiation import rounds
from arrears.negotiation.accepted import accepted_offer
from arrears.negotiation.debt import load_context
from arrears.negotiation.limits import max_periods
from arrears.negotiation.tables import HardshipApplication, Negotiation
from arrears.negotiation.terms import Terms

BUSINESS_DATE = date(2026, 11, 20)  # the demo's date (tests/e2e/conftest.py), on which the server runs
NEGOTIATOR = Principal(user_id=0, username="e2e-negotiator", display_name="谈判员", role=Role.negotiator)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128


def _journey_borrower(demo) -> tuple[int, int, str]:
    """(borrower id, loan id, mobile number) of an overdue borrower with one loan, no portal account yet and no
    negotiation: the other journeys' borrowers are left alone."""
    with demo.session() as s:
        one_loan = select(Loan.borrower_id).group_by(Loan.borrower_id).having(func.count() == 1)
        taken = select(User.borrower_id).where(User.borrower_id.is_not(None))
        busy = select(Negotiation.loan_id)
        row = s.execute(select(Loan.borrower_id, Loan.id).join(LoanDelinquency, LoanDelinquency.loan_id == Loan.id)
                        .where(LoanDelinquency.dpd.between(31, 400), Loan.borrower_id.in_(one_loan),
                               Loan.borrower_id.not_in(taken), Loan.id.not_in(busy), Loan.status == "active")
                        .order_by(Loan.id.desc()).limit(1)).one()
        phone = demo.cipher.decrypt(s.get(Borrower, row[0]).phone_enc)
        return row[0], row[1], phone


def _last_code(demo, borrower_id: int, template: str) -> str:
    with demo.session() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.borrower_id == borrower_id,
                                                    OutboxMessage.template == template)
                        .order_by(OutboxMessage.id.desc())).first()
        return re.search(r"\d{6}", demo.cipher.decrypt(msg.body_enc)).group(0)


def _fits(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def _staff_offer(demo, loan_id: int) -> None:
    """The negotiator reads the application and offers a plan (the services the desk calls)."""
    with demo.session() as s:
        app = s.scalar(select(HardshipApplication).where(HardshipApplication.loan_id == loan_id))
        neg = rounds.open_negotiation(s, NEGOTIATOR, loan_id=loan_id, today=BUSINESS_DATE, application_id=app.id)
        ctx = load_context(s, loan_id, BUSINESS_DATE)
        rounds.make_offer(s, NEGOTIATOR, negotiation_id=neg.id, today=BUSINESS_DATE,
                          terms=Terms(min(12, max_periods(ctx)), ctx.contract_rate))
        s.commit()


def _prepare_and_send(demo, loan_id: int) -> int:
    with demo.session() as s:
        neg = s.scalar(select(Negotiation).where(Negotiation.loan_id == loan_id, Negotiation.status == "agreed"))
        accepted = accepted_offer(s, neg.id)
        a = agreements.create_agreement(s, plan=accepted.plan, loan_id=loan_id, prepared_by=NEGOTIATOR.actor,
                                        cipher=demo.cipher)
        signing.send_for_signature(s, agreement_id=a.id, actor=NEGOTIATOR.actor, cipher=demo.cipher)
        s.commit()
        return a.id


def test_borrower_signs_in_with_a_code_applies_compares_signs_and_complains(new_context, demo, screenshot):
    borrower_id, loan_id, phone = _journey_borrower(demo)
    page = new_context(phone=True).new_page()

    # 1. Sign in with a one-time code sent by SMS (read here from the outbox).
    page.goto("/portal")
    page.wait_for_url("**/portal/login")
    page.get_by_label("手机号码或借款人编号").fill(phone)
    screenshot(page, "1-sign-in-number")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("status")).to_contain_text("验证码短信正在发送中")
    code = _last_code(demo, borrower_id, "sign_in_code")
    page.get_by_label("6 位验证码").fill(code)
    screenshot(page, "2-sign-in-code")
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url("**/portal")
    expect(page.get_by_role("heading", level=1)).to_contain_text("您好")

    # 2. What is owed and why, what happens next, rights and how to repay.
    assert _fits(page)
    screenshot(page, "3-what-is-owed")
    page.get_by_role("link", name="明细与还款计划").first.click()
    page.wait_for_url(f"**/portal/loans/{loan_id}")
    expect(page.get_by_role("heading", name="接下来会怎样")).to_be_visible()
    expect(page.locator(".schedule-list li.overdue").first).to_be_visible()
    expect(page.get_by_role("heading", name="还款方式")).to_be_visible()
    assert _fits(page)
    screenshot(page, "4-loan-schedule-next-steps")

    # 3. Apply for hardship with an uploaded file; a program disguised as a picture is refused first.
    page.get_by_role("link", name="申请困难救助").first.click()
    page.get_by_label("原因").select_option("illness")
    page.get_by_label("开始时间").fill("2026-09-01")
    page.get_by_label("工资").fill("1500")
    page.get_by_label("住房（房租或房贷）").fill("800")
    page.get_by_label("食品").fill("900")
    page.get_by_label("我同意贵行使用以上信息和文件").check()
    page.get_by_label(re.compile("文件：")).set_input_files(
        {"name": "诊断证明.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00" + b"\x00" * 64})
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator("#file-error")).to_contain_text("不接受此类文件")
    screenshot(page, "5-hardship-file-refused")
    page.get_by_label("我同意贵行使用以上信息和文件").check()
    page.get_by_label(re.compile("文件：")).set_input_files(
        {"name": "诊断证明.png", "mimeType": "image/png", "buffer": PNG})
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url("**/portal/hardship/*")
    expect(page.locator(".status")).to_have_text("已收到，审核中")
    expect(page.get_by_text("image/png")).to_be_visible()
    screenshot(page, "6-hardship-status")

    # 4. The negotiator offers a plan; the borrower compares it with their own proposal and accepts it.
    _staff_offer(demo, loan_id)
    page.goto(f"/portal/loans/{loan_id}/plans")
    expect(page.get_by_role("heading", name="我们提供的方案")).to_be_visible()
    page.get_by_label(re.compile("分期月数")).fill("600")
    page.get_by_role("button", name="评估我的方案").click()
    expect(page.get_by_role("heading", name="我们无法同意这个方案")).to_be_visible()
    expect(page.get_by_role("heading", name="我们可以同意的最接近方案")).to_be_visible()
    screenshot(page, "7-compare-plans")
    page.get_by_role("button", name="接受这个方案").first.click()
    expect(page.get_by_role("heading", name="您已接受的方案")).to_be_visible()
    screenshot(page, "8-offer-accepted")

    # 5. The agreement is prepared and sent; the borrower reads it and signs with the code (a wrong one first).
    agreement_id = _prepare_and_send(demo, loan_id)
    page.goto("/portal")
    page.get_by_role("link", name="有一份还款协议等待您签署").click()
    page.wait_for_url(f"**/portal/agreements/{agreement_id}")
    expect(page.get_by_role("link", name="阅读协议（PDF）")).to_have_attribute(
        "href", f"/portal/agreements/{agreement_id}/document")
    code = _last_code(demo, borrower_id, "one_time_code")
    page.get_by_label("我已阅读本协议，同意协议全部条款。").check()
    page.get_by_label("短信验证码").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="签署协议").click()
    expect(page.locator("#code-error")).to_have_text("验证码不正确")
    screenshot(page, "9-sign-wrong-code")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="签署协议").click()
    expect(page.locator(".status")).to_have_text("您已签署，待我行复核签署")
    screenshot(page, "10-signed")

    # 5b. The bank countersigns; the borrower pays the plan's first instalment through one of the channels the
    # portal lists (the bank's payment feed posts it) and sees it paid on the new schedule.
    with demo.session() as s:
        agreements.countersign(s, agreement_id=agreement_id, officer="e2e-supervisor", business_date=BUSINESS_DATE)
        s.commit()
    page.goto(f"/portal/loans/{loan_id}")
    paid_before = page.locator("li.paid").count()
    with demo.session() as s:
        rows = s.scalars(select(Instalment).where(Instalment.loan_id == loan_id).order_by(Instalment.seq)).all()
        first = next(instalment_balance(r).outstanding_total for r in rows if instalment_balance(r).outstanding_total)
        post_payment(s, loan_id=loan_id, amount_fen=first, received_on=BUSINESS_DATE, actor="bank-feed",
                     idempotency_key=f"e2e-portal-pay-{loan_id}", today=BUSINESS_DATE)
        s.commit()
    page.reload()
    expect(page.locator("li.paid")).to_have_count(paid_before + 1)
    screenshot(page, "10b-first-plan-instalment-paid")

    # 6. A complaint, then its status.
    page.get_by_role("link", name="投诉", exact=True).click()
    page.get_by_label("投诉类别").select_option("service")
    page.get_by_label("发生了什么").fill("客服电话一直占线，希望改进。")
    page.get_by_role("button", name="提交投诉").click()
    page.wait_for_url("**/portal/complaints/*")
    expect(page.locator(".status")).to_have_text("已受理")
    assert _fits(page)
    screenshot(page, "11-complaint-status")
