"""/dashboards and its XLSX export (SQLite and PostgreSQL): the figures on the page equal the aggregates, filters
narrow them, bad filters are explained next to their field, the workbook holds the page's numbers, and only
staff with reports:read see any of it."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest
from dash_helpers import DATES, build_book, table_values, yuan
from openpyxl import load_workbook
from sqlalchemy import func, select

from arrears.auth import service
from arrears.delinquency.snapshots import SnapshotStore
from arrears.privacy import PersonalDataCipher
from arrears.reports.tables import PortfolioDaily
from support import PASSWORD

pytestmark = pytest.mark.business_date("2024-03-12")
PERIOD = {"start": "2024-02-01", "end": "2024-03-12"}


@pytest.fixture
def site(db, tmp_path, secret_key, make_client):
    cipher = PersonalDataCipher(secret_key)
    ids = build_book(db, SnapshotStore(tmp_path / "snapshots"), cipher)
    with db.session() as s:
        service.create_user(s, username="zhangsan", display_name="张三", password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=site_borrower(s))
        s.commit()
    with make_client("supervisor", "compliance", "collector") as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def site_borrower(s) -> int:
    from arrears.loans.tables import Borrower

    return s.scalar(select(Borrower.id))


def _loans_on(db, day, product=None):
    with db.session() as s:
        stmt = select(func.sum(PortfolioDaily.loans)).where(PortfolioDaily.business_date == day)
        if product:
            stmt = stmt.where(PortfolioDaily.product_code == product)
        return s.scalar(stmt)


def test_the_supervisor_sees_charts_with_their_data_tables(site, db):
    site.login("supervisor")
    page = site.get("/dashboards", params=PERIOD)
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 9 and html.count('role="img"') == html.count("<svg")
    assert "<desc id=" in html and "迁徙率矩阵" in html and "cdn" not in html.lower()
    rows = table_values(html, "t-bucket")
    per_date: dict[str, int] = {}
    for day, _bucket, loans, *_ in rows:
        per_date[day] = per_date.get(day, 0) + int(loans)
    assert per_date == {d.isoformat(): _loans_on(db, d) for d in DATES}
    roll = table_values(html, "t-roll")
    assert sum(int(r[2]) for r in roll) == _loans_on(db, DATES[0])  # rows add up to the loans at the start
    rates = {r[0]: r for r in table_values(html, "t-rates")}
    assert rates["recovery_rate"][4] == "50000"  # the payment after the anchor
    assert table_values(html, "t-complaints") == [["harassment", "1", "0"]]
    assert table_values(html, "t-blocked") == [["open_complaint", "1"]]
    assert "催收骚扰" in html


def _ticks(html: str) -> set[str]:
    """The labels of the time charts' date axis."""
    import re

    return set(re.findall(r'<text class="tick date" [^>]*>([^<]+)</text>', html))


def test_the_date_axis_is_written_in_the_pages_language(site):
    """Each column a business date (three in the period): 2月20日 in Chinese, Feb 20 in English."""
    site.login("supervisor")
    assert _ticks(site.get("/dashboards", params=PERIOD).text) == {"2月20日", "3月4日", "3月12日"}
    assert _ticks(site.get("/dashboards", params={**PERIOD, "lang": "en"}).text) == {"Feb 20", "Mar 4", "Mar 12"}


def test_filters_narrow_every_figure(site, db):
    site.login("compliance")
    html = site.get("/dashboards", params={**PERIOD, "product": "consumer_loan"}).text
    days: dict[str, int] = {}
    for day, _c, loans, *_ in table_values(html, "t-class"):
        days[day] = days.get(day, 0) + int(loans)
    assert days[DATES[-1].isoformat()] == _loans_on(db, DATES[-1], "consumer_loan") < _loans_on(db, DATES[-1])
    other = site.get("/dashboards", params={**PERIOD, "product": "inclusive_loan"}).text
    assert table_values(other, "t-complaints") == [] and table_values(other, "t-blocked") == []
    one_day = site.get("/dashboards", params={"start": "2024-03-04", "end": "2024-03-04"}).text
    assert {r[0] for r in table_values(one_day, "t-bucket")} == {"2024-03-04"}
    assert table_values(site.get("/dashboards", params={**PERIOD, "team": "field"}).text, "t-blocked") == []


def test_bad_filters_are_explained_next_to_the_field_and_kept(site):
    site.login("supervisor")
    r = site.get("/dashboards", params={"start": "2024-13-01", "end": "2024-03-01", "product": "nope"})
    assert r.status_code == 400
    assert 'id="start-error"' in r.text and "YYYY-MM-DD" in r.text and 'value="2024-13-01"' in r.text
    assert 'id="product-error"' in r.text and "请从列表中选择" in r.text and "<svg" not in r.text
    r = site.get("/dashboards", params={"start": "2024-03-05", "end": "2024-03-01"})
    assert r.status_code == 400 and "结束日期早于开始日期" in r.text
    r = site.get("/dashboards", params={"start": "2020-01-01", "end": "2024-03-01"}, headers={"accept-language": "en"})
    assert r.status_code == 400 and "at most two years" in r.text
    assert site.get("/dashboards/export.xlsx", params={"start": "x"}).status_code == 400


def test_the_workbook_holds_the_pages_numbers(site):
    site.login("supervisor")
    html = site.get("/dashboards", params=PERIOD).text
    r = site.get("/dashboards/export.xlsx", params=PERIOD)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(r.content))
    assert book.sheetnames[:3] == ["资产按逾期阶段分布", "资产按五级分类分布", "迁徙率矩阵"] and len(book.sheetnames) == 8
    sheet = book["资产按逾期阶段分布"]
    assert [c.value for c in sheet[1]] == ["业务日期", "逾期分档", "贷款笔数", "余额(元)", "逾期金额(元)"]
    page_rows = table_values(html, "t-bucket")
    file_rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(file_rows) == len(page_rows) > 0
    for (day, _b, loans, balance, overdue), got in zip(page_rows, file_rows):
        assert got[0].date().isoformat() == day and got[2] == int(loans)
        assert Decimal(str(got[3])) == yuan(balance) and Decimal(str(got[4])) == yuan(overdue)
    assert sheet.cell(2, 4).number_format == "#,##0.00"
    rates = book["转正常率、回收率、承诺兑现率与再违约率"]
    recovery = next(r for r in rates.iter_rows(min_row=2, values_only=True) if r[0] == "回收率")
    assert Decimal(str(recovery[4])) == Decimal("500.00")
    assert rates.cell(2, 2).number_format == "0.00%"
    roll = book["迁徙率矩阵"]
    assert sum(r[2] for r in roll.iter_rows(min_row=2, values_only=True)) == \
        sum(int(r[2]) for r in table_values(html, "t-roll"))
    english = load_workbook(BytesIO(site.get("/dashboards/export.xlsx", params={**PERIOD, "lang": "en"}).content))
    assert english.sheetnames[0] == "Portfolio by bucket"
    assert [c.value for c in english["Portfolio by bucket"][1]][:3] == ["Business date", "Bucket", "Loans"]


def test_only_staff_with_reports_read_see_dashboards(site):
    assert site.get("/dashboards", follow_redirects=False).headers["location"] == "/login"
    site.login("collector")
    assert site.get("/dashboards").status_code == 403
    assert site.get("/dashboards/export.xlsx").status_code == 403
    assert 'href="/dashboards"' not in site.get("/loans").text
    site.cookies.clear()
    site.login("zhangsan")
    for path in ("/dashboards", "/dashboards/export.xlsx"):
        r = site.get(path, params=PERIOD)
        assert r.status_code == 404 and "<svg" not in r.text and "PK" not in r.text[:2]
