"""The supervisor's dashboards in a real browser: open them from the navigation, filter by product and period, see
the charts with their data tables, download the XLSX and find the page's numbers in it. Screenshots:
test-artifacts/screenshots/dashboards-*.png."""

from __future__ import annotations

import re
from decimal import Decimal

from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from arrears.products.catalog import catalog
from arrears.reports.tables import PortfolioDaily

PRODUCT = "inclusive_loan"  # 惠民贷


def test_supervisor_filters_the_dashboards_and_downloads_them(new_context, demo, screenshot, tmp_path):
    with demo.session() as s:  # the demo's end of day (conftest's business date), from its own aggregates
        BUSINESS_DATE = s.scalar(select(func.max(PortfolioDaily.business_date)))
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill(demo.logins["supervisor"])
    page.get_by_label("密码").fill(demo.password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="统计看板").click()
    page.wait_for_url("**/dashboards")
    expect(page.get_by_role("heading", level=1)).to_have_text("统计看板")
    expect(page.get_by_role("img", name=re.compile("资产按逾期阶段分布"))).to_have_count(2)
    screenshot(page, "dashboards-all")
    axis = page.locator("svg.chart text.tick.date")  # the time charts' date axis
    assert axis.count() > 0 and all(re.fullmatch(r"\d{1,2}月\d{1,2}日", t) for t in axis.all_text_contents())

    product = catalog().product(PRODUCT)
    page.get_by_label("产品").select_option(PRODUCT)
    page.get_by_label("开始日期").fill(BUSINESS_DATE.replace(day=1).isoformat())
    page.get_by_label("结束日期").fill(BUSINESS_DATE.isoformat())
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(re.compile(rf"product={PRODUCT}"))
    expect(page.get_by_label("产品")).to_have_value(PRODUCT)
    expect(page.locator(".period")).to_contain_text(f"{BUSINESS_DATE.year}年{BUSINESS_DATE.month}月1日")
    for name in ("资产按逾期阶段分布", "资产按五级分类分布", "迁徙率矩阵", "被拦截的联系"):
        expect(page.get_by_role("img", name=re.compile(name)).first).to_be_visible()
    with demo.session() as s:
        loans = s.scalar(select(func.sum(PortfolioDaily.loans)).where(
            PortfolioDaily.business_date == BUSINESS_DATE, PortfolioDaily.product_code == PRODUCT))
    assert loans and loans > 0, product.name_zh
    cells = page.locator("#t-bucket-table tbody tr td:nth-child(3)")
    page.get_by_text("数据表:资产按逾期阶段分布").click()  # the data table opens from the keyboard or a click
    shown = sum(int(t.replace(",", "")) for t in cells.all_inner_texts())
    assert shown == loans
    page.locator("#h-roll").scroll_into_view_if_needed()
    screenshot(page, "dashboards-filtered")

    with page.expect_download() as info:
        page.get_by_role("link", name="下载 XLSX").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    book = load_workbook(path)
    sheet = book["资产按逾期阶段分布"]
    assert sum(r[2] for r in sheet.iter_rows(min_row=2, values_only=True)) == loans
    balance = sum(Decimal(str(r[3])) for r in sheet.iter_rows(min_row=2, values_only=True))
    page_balance = sum(Decimal(t.replace(",", "")) for t in
                       page.locator("#t-bucket-table tbody tr td:nth-child(4)").all_inner_texts())
    assert balance == page_balance > 0

    page.get_by_role("link", name="English").click()  # the same charts in English: the axis too
    expect(page.get_by_role("heading", level=1)).not_to_have_text("统计看板")
    assert axis.count() > 0 and all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", t) for t in axis.all_text_contents())
