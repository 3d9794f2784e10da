"""What staff and borrowers do today, in a real browser (Debian's Chromium) against the real server over a
small demo portfolio as of 2026-11-20, after its end of day. Screenshots: test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from arrears.loans.tables import Borrower, Loan
from arrears.privacy import mask_id_number, mask_name, mask_phone
from arrears.products.catalog import catalog
from e2e.conftest import sign_in

PRODUCT = "inclusive_loan"  # 惠民贷




def focused(page: Page) -> dict:
    """The focused element: its tag, id, text, and whether a focus ring is drawn around it."""
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || "").trim(),
                ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
                top: el.getBoundingClientRect().top};
    }""")


def fits_the_width(page: Page) -> bool:
    """Nothing sticks out sideways (tables may scroll inside their own box)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def row_value(page: Page, term: str) -> str:
    """The <dd> that follows the <dt> named ``term``."""
    return page.locator("dt", has_text=re.compile(f"^{re.escape(term)}$")).locator("xpath=following-sibling::dd[1]") \
        .inner_text().strip()


def test_collector_signs_in_with_the_keyboard_filters_the_book_and_opens_a_loan(new_context, demo, screenshot):
    loan, state = demo.overdue_loan(PRODUCT)
    product = catalog().product(PRODUCT)
    page = new_context().new_page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # Keyboard only: the skip link comes first and shows itself, then the way to the sign-in form.
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "跳到主要内容" and skip["ring"] and skip["top"] >= 0, skip
    screenshot(page, "home-skip-link")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "登录"
    page.keyboard.press("Enter")
    page.wait_for_url("**/login")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip to the form
    page.keyboard.press("Tab")
    field = focused(page)
    assert field["id"] == "username" and field["ring"], field
    page.keyboard.type(demo.logins["collector"])
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(demo.password)
    screenshot(page, "sign-in-by-keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/loans")
    expect(page.get_by_role("heading", level=1)).to_contain_text("贷款台账")
    screenshot(page, "loan-book")

    # The book, filtered to one product.
    page.get_by_label("产品").select_option(PRODUCT)
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(f"**/loans?*product={PRODUCT}*")
    with demo.session() as s:
        count = s.scalar(select(func.count()).select_from(Loan).where(Loan.product_code == PRODUCT))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"共 {count} 笔")
    products = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert products and set(products) == {product.name_zh}, products
    screenshot(page, "loan-book-filtered")

    # One overdue loan: masked personal data, its end-of-day state and its schedule.
    page.get_by_role("link", name=loan.loan_no, exact=True).click()
    page.wait_for_url(f"**/loans/{loan.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"贷款 {loan.loan_no}")
    name = demo.borrower_name(loan)
    with demo.session() as s:
        b = s.get(Borrower, loan.borrower_id)
        id_number, phone = demo.cipher.decrypt(b.id_number_enc), demo.cipher.decrypt(b.phone_enc)
    assert row_value(page, "姓名") == mask_name(name)
    assert row_value(page, "证件号码") == mask_id_number(id_number)
    assert row_value(page, "手机") == mask_phone(phone)
    body = page.locator("body").inner_text()
    assert name not in body and id_number not in body and phone not in body
    expect(page.get_by_text("个人信息已按您的角色脱敏显示。")).to_be_visible()

    classification = next(level for level in catalog().classifications[product.classification].levels
                          if level.code == state.classification)
    assert row_value(page, "逾期天数") == f"{state.dpd} 天"
    assert row_value(page, "五级分类") == classification.name_zh
    expect(page.get_by_role("heading", name=re.compile("逾期状态（2026年11月20日 日终）"))).to_be_visible()
    schedule = page.get_by_role("region", name="还款计划").locator("tbody tr")
    assert schedule.count() == loan.term
    assert page.get_by_role("region", name="还款计划").locator("tr.overdue").count() >= 1
    screenshot(page, "loan")


def test_the_language_switches_to_english_and_back(new_context, demo, screenshot):
    loan, state = demo.overdue_loan(PRODUCT)
    page = new_context().new_page()
    sign_in(page, demo.logins["collector"], demo.password, landing=None)
    page.wait_for_url("**/loans")
    page.goto(f"/loans/{loan.id}")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Loan {loan.loan_no}")
    assert row_value(page, "Days past due") == f"{state.dpd} day" + ("" if state.dpd == 1 else "s")
    expect(page.get_by_role("heading", name="Repayment schedule")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to main content")).to_be_attached()
    screenshot(page, "loan-en")

    # The choice is remembered: the next page is in English without asking again.
    page.get_by_role("link", name="Loan book").click()
    page.wait_for_url("**/loans")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Loan book")
    expect(page.get_by_role("heading", level=1)).to_contain_text("200 loans in all")
    screenshot(page, "loan-book-en")

    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_contain_text("贷款台账")
    page.goto(f"/loans/{loan.id}")
    expect(page.get_by_role("heading", name="还款计划")).to_be_visible()


def test_an_english_browser_gets_english_until_it_switches(new_context, demo, screenshot):
    page = new_context(locale="en-US").new_page()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_role("button", name="Sign in").click()  # empty form: both fields explained
    expect(page.locator(".error")).to_have_count(2)
    expect(page.get_by_label("User name")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "sign-in-errors-en")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")


def test_borrower_on_a_phone_sees_what_is_owed_and_their_rights(new_context, demo, screenshot):
    username = demo.logins["borrower"]
    page = new_context(phone=True).new_page()
    sign_in(page, username, demo.password, landing=None)
    page.wait_for_url("**/portal")
    expect(page.get_by_role("heading", level=1)).to_contain_text("您好，")
    first = page.locator("table.stack").first
    items = first.locator("tbody th").all_inner_texts()
    assert {"本金", "利息", "罚息/违约金", "合计"} <= set(items), items
    expect(page.locator("p.owed").first).to_contain_text("当前未还合计")
    # On a phone each figure carries its own heading (the column headings are off-screen).
    expect(first.locator("td[data-label='未还']").first).to_be_visible()
    rights = page.get_by_role("heading", name="您的权利")
    rights.scroll_into_view_if_needed()
    expect(rights).to_be_visible()
    expect(page.get_by_text("有权根据自身经济状况提出分期、展期或减免罚息的还款方案")).to_be_visible()
    assert fits_the_width(page)
    screenshot(page, "portal-phone")

    # The schedule opens on demand and scrolls inside its own box, not the page.
    page.locator("details.schedule > summary").first.click()
    schedule = page.get_by_role("region", name="还款计划").first
    expect(schedule).to_be_visible()
    assert schedule.locator("tr.overdue").count() >= 1
    assert fits_the_width(page)
    screenshot(page, "portal-schedule-phone")


def owed_is_stacked(page: Page) -> bool:
    """Every "what is owed" block shows each figure with its heading without scrolling sideways in its box."""
    return page.evaluate("""() => [...document.querySelectorAll("table.stack")].filter(t => !t.closest("details"))
        .every(t => t.parentElement.scrollWidth <= t.parentElement.clientWidth)""")


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_what_is_owed_fits_a_phone_in_either_language(new_context, demo, screenshot, locale):
    # English labels ("Outstanding 136,000.00") are longer than Chinese: two figures a line would not fit.
    page = new_context(phone=True, locale=locale).new_page()
    sign_in(page, demo.logins["borrower"], demo.password, landing=None)
    page.wait_for_url("**/portal")
    expect(page.locator("table.stack td[data-label]").first).to_be_visible()
    assert owed_is_stacked(page)
    screenshot(page, f"portal-owed-phone-{locale}")


def test_borrower_changing_the_loan_id_in_the_address_gets_not_found(new_context, demo, screenshot):
    username = demo.logins["borrower"]
    own = demo.loans_of(username)
    other = next(i for i in demo.loan_ids() if i not in own)
    page = new_context(phone=True).new_page()
    sign_in(page, username, demo.password, landing=None)
    page.wait_for_url("**/portal")
    response = page.goto(f"/loans/{other}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("未找到")
    assert fits_the_width(page)
    screenshot(page, "not-found-phone")
    assert page.goto(f"/loans/{own[0]}").status == 200  # their own loan still opens


def test_api_docs_work_offline(new_context, screenshot):
    page = new_context().new_page()
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("arrears")
    expect(page.locator(".opblock").first).to_be_visible()
    screenshot(page, "api-docs")
    # new_context fails the test if the page asked anything of another host (a CDN, the validator …).
