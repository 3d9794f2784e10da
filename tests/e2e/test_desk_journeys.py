"""The negotiation desk in a real browser (Debian's Chromium) on the demo portfolio as of 2026-11-20: the
negotiator builds and sends an offer, the supervisor approves it; after the borrower accepts, the agreement is
prepared and sent for signature, and once signed it is countersigned in /approvals. What a borrower does in the
portal (apply, accept, sign) is done here through the same services, so this journey does not depend on the
portal's pages. Screenshots: test-artifacts/screenshots/negotiator_builds_and_sends_an_offer_supervisor_approves--*.png."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from arrears.agreements import signing
from arrears.agreements.tables import Agreement
from arrears.auth.model import Principal, Role
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.tables import Borrower, Loan
from arrears.negotiation import hardship, rounds
from arrears.negotiation.affordability import Statement
from arrears.negotiation.tables import HardshipApplication, Negotiation, Offer
from e2e.conftest import sign_in

TODAY = date(2026, 11, 20)




def _borrower(borrower_id: int) -> Principal:
    return Principal(user_id=0, username=f"borrower:{borrower_id}", display_name="", role=Role.borrower,
                     borrower_id=borrower_id)


def _hardship_case(demo) -> tuple[int, int, str]:
    """A borrower of the demo with an overdue inclusive loan and no application or negotiation yet, who applies for
    hardship: (loan id, borrower id, loan no). Not the borrower with the portal sign-in (the portal's journeys use that
    loan) nor the loan other journeys open (``demo.overdue_loan``: the fewest days past due from 31): this one is
    countersigned into a restructuring."""
    own = set(demo.loans_of(demo.logins["borrower"])) | {demo.overdue_loan("inclusive_loan")[0].id}
    with demo.session() as s:
        taken = set(s.scalars(select(Negotiation.loan_id))) | set(s.scalars(select(HardshipApplication.loan_id)))
        rows = s.execute(select(Loan.id, Loan.borrower_id, Loan.loan_no)
                         .join(LoanDelinquency, LoanDelinquency.loan_id == Loan.id)
                         .where(Loan.product_code == "inclusive_loan", LoanDelinquency.dpd >= 31)
                         .order_by(Loan.loan_no.desc())).all()
        loan_id, borrower_id, loan_no = next(r for r in rows if r[0] not in own and r[0] not in taken)
        statement = Statement(incomes={"wages": 420_000}, expenses={"housing": 120_000, "food": 110_000,
                                                                    "utilities": 20_000, "transport": 20_000},
                              dependants=1, assets={"deposit": 300_000})
        hardship.file_application(s, demo.cipher, _borrower(borrower_id), loan_id=loan_id, statement=statement,
                                  hardship_kind="illness", hardship_since=date(2026, 8, 1),
                                  description="住院治疗三个月，收入减少", consent=True, today=TODAY)
        s.commit()
    return loan_id, borrower_id, loan_no


def test_negotiator_builds_and_sends_an_offer_supervisor_approves(new_context, demo, screenshot):
    loan_id, borrower_id, loan_no = _hardship_case(demo)
    nego = new_context().new_page()
    sign_in(nego, demo.logins["negotiator"], demo.password)

    # The list: the application waits; a negotiation is opened on it.
    nego.get_by_role("link", name="协商", exact=True).click()
    expect(nego.get_by_role("heading", level=1)).to_have_text("协商")
    row = nego.locator("tr", has_text=loan_no)
    expect(row).to_contain_text("疾病或受伤")
    screenshot(nego, "list")
    row.get_by_role("button", name="发起协商").click()
    nego.wait_for_url(re.compile(r"/negotiations/\d+$"))
    desk_url = nego.url

    # The desk: the statement decrypted, the identity masked for a negotiator; the application verified.
    expect(nego.get_by_role("heading", level=2, name="收支情况与还款能力")).to_be_visible()
    expect(nego.get_by_text("个人信息已按您的角色脱敏显示。")).to_be_visible()
    nego.get_by_role("button", name="核实通过").click()
    expect(nego.get_by_role("status")).to_have_text("申请已核实。")
    screenshot(nego, "desk")

    # Compare the ranked options side by side, each with its chart and schedule.
    cards = nego.locator("article.option")
    expect(cards).to_have_count(4)
    for k in range(4):
        expect(cards.nth(k).locator("svg.chart rect").first).to_be_visible()
        expect(cards.nth(k)).to_contain_text("完成概率")
    cards.first.locator("summary").click()
    expect(cards.first.locator("table.schedule-table")).to_be_visible()
    cards.first.scroll_into_view_if_needed()
    screenshot(nego, "options")

    # Adjust the first option in the calculator: desk.js updates the result as one types.
    cards.first.get_by_role("link", name="在测算器中调整").click()
    calc = nego.locator("#calculator")
    periods = calc.get_by_label("期限（月）")
    periods.fill("999")
    expect(nego.locator("#calc-err-periods")).to_contain_text("期数须在 1 至")  # no submit: fetched as typed
    expect(periods).to_have_attribute("aria-invalid", "true")
    expect(nego.locator("#calc-result .verdict")).to_contain_text("不允许")
    screenshot(nego, "calculator-limit")
    periods.fill("24")
    calc.get_by_label(re.compile("^本金")).fill("300")  # a principal reduction: beyond a negotiator's authority
    expect(nego.locator("#calc-result .verdict")).to_contain_text("需要主管审批")
    expect(nego.locator("#calc-err-periods")).to_be_empty()
    expect(nego.locator("#calc-result svg.chart rect")).to_have_count(24)
    screenshot(nego, "calculator")

    # Send the offer: it waits for a supervisor.
    calc.get_by_role("button", name="提出此方案").click()
    nego.wait_for_url(re.compile(r"done=offered"))
    rounds_row = nego.locator("#rounds tbody tr").last
    expect(rounds_row).to_contain_text("待审批")
    expect(rounds_row).to_contain_text("主管")
    screenshot(nego, "offer-sent")

    # The supervisor approves it in /approvals, the limit it is beyond explained.
    boss = new_context().new_page()
    sign_in(boss, demo.logins["supervisor"], demo.password)
    boss.get_by_role("link", name="审批").click()
    offer_row = boss.locator("#offers tbody tr", has_text=loan_no)
    expect(offer_row).to_contain_text("需要主管审批")
    expect(offer_row.locator("li.over")).to_contain_text("减免本金 300.00 元")
    screenshot(boss, "approvals")
    offer_row.get_by_role("button", name="批准", exact=True).click()
    expect(boss.get_by_role("status")).to_have_text("方案已批准，借款人现在可以接受。")
    screenshot(boss, "approved")

    # The borrower accepts (the portal's part, through the service).
    with demo.session() as s:
        offer = s.scalars(select(Offer).where(Offer.loan_id == loan_id, Offer.status == "open")).one()
        assert offer.approved_by == demo.logins["supervisor"]
        rounds.accept(s, _borrower(borrower_id), offer.id)
        s.commit()

    # The negotiator prepares the agreement and sends it for signature.
    nego.goto(desk_url)
    expect(nego.locator("#agreement")).to_contain_text("借款人已接受方案")
    nego.get_by_role("button", name="生成还款协议").click()
    expect(nego.get_by_role("status")).to_have_text("还款协议已生成。")
    pdf_link = nego.get_by_role("link", name="还款协议（PDF）")
    pdf = nego.request.get(pdf_link.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    nego.get_by_role("button", name="发送借款人签署").click()
    expect(nego.get_by_role("status")).to_have_text("签署验证码已发送给借款人。")
    expect(nego.locator("#agreement")).to_contain_text("已发送借款人签署")
    screenshot(nego, "agreement-sent")

    # The borrower signs with the one-time code (the portal's part, through the service).
    with demo.session() as s:
        a = s.scalars(select(Agreement).where(Agreement.loan_id == loan_id)).one()
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{a.id}:code:%"))
                        .order_by(OutboxMessage.id.desc())).first()
        code = re.search(r"\d{6}", demo.cipher.decrypt(msg.body_enc)).group(0)
        assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=borrower_id, code=code, consent=True,
                                     cipher=demo.cipher).signed
        s.commit()
        number = f"HK-{a.as_of:%Y%m%d}-{a.id:06d}"

    # The supervisor countersigns: the agreement comes into force.
    boss.goto("/approvals")
    signed_row = boss.locator("#agreements tbody tr", has_text=number)
    expect(signed_row).to_contain_text(loan_no)
    screenshot(boss, "countersign")
    signed_row.get_by_role("button", name="复核签署").click()
    expect(boss.get_by_role("status")).to_have_text("协议已复核签署，正式生效。")
    screenshot(boss, "countersigned")
    nego.goto(desk_url)
    expect(nego.locator("#agreement")).to_contain_text("已生效")
    screenshot(nego, "agreement-in-force")
    with demo.session() as s:
        assert s.scalars(select(Agreement.status).where(Agreement.loan_id == loan_id)).one() == "countersigned"
        assert s.get(Borrower, borrower_id) is not None
