"""Write-off and transfer pages on both backends: the maker cannot approve their own batch (the refusal is shown),
a stale decision says so, the checker's approval writes the loan off; a transfer package is built from loan
numbers and sold with the price in yuan text refused next to the field when it is not one."""

from __future__ import annotations

import re

import pytest
from legal_desk_support import BUSINESS_DATE, TODAY, xiao_li

from arrears.db.engine import unit_of_work
from arrears.legal.outcomes import close_legal_case
from arrears.loans.tables import Loan
from arrears.writeoff.tables import TransferPackage, WriteOffBatch

pytestmark = pytest.mark.business_date(BUSINESS_DATE)


@pytest.fixture
def exits(db, tmp_path, secret_key, make_client):
    ids = xiao_li(db, tmp_path, secret_key)
    with unit_of_work(db.factory) as s:  # enforcement ended without assets: the write-off rules take the loan
        close_legal_case(s, legal_case_id=ids["legal_case"], expected_version=1, outcome="terminated", today=TODAY,
                         actor="t", reason="终结本次执行")
    with make_client("admin", "supervisor", "collector", "compliance") as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def _error(html: str, form: str, field: str) -> str:
    found = re.search(rf'id="{form}-{field}-error" role="alert">(.*?)</p>', html, re.DOTALL)
    return found.group(1) if found else ""


def test_only_exit_roles_see_the_pages(exits):
    for role in ("collector", "compliance"):
        exits.login(role)
        assert exits.get("/writeoffs").status_code == 403
        assert exits.post("/writeoffs").status_code == 403
        assert exits.post("/transfers", data={"code": "X"}).status_code == 403
        exits.post("/logout")
    exits.login("supervisor")  # approves, builds packages, never proposes
    page = exits.get("/writeoffs").text
    assert "核销批次" in page and "按核销规则提出" not in page and "组建资产包" in page


def test_the_maker_cannot_approve_and_the_checker_writes_off(exits):
    exits.login("admin")
    r = exits.post("/writeoffs", follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    page = exits.get(url).text
    assert "L-LI" in page and "已提出，待复核" in page and "admin" in page
    r = exits.post(f"{url}/decision", data={"version": "1", "decision": "approve"})
    assert r.status_code == 403 and "经办人不能自行批准" in r.text
    exits.post("/logout")
    exits.login("supervisor")
    r = exits.post(f"{url}/decision", data={"version": "1", "decision": "reject", "reason": ""})
    assert r.status_code == 422 and _error(r.text, "decision", "reason") == "必填"
    r = exits.post(f"{url}/decision", data={"version": "0", "decision": "approve"})
    assert r.status_code == 409 and "他人已修改了该批次" in r.text
    with exits.db.session() as s:
        assert s.query(WriteOffBatch).one().status == "proposed"
    r = exits.post(f"{url}/decision", data={"version": "1", "decision": "approve"}, follow_redirects=False)
    assert r.status_code == 303
    assert "已批准并核销" in exits.get(url).text and "supervisor" in exits.get(url).text
    with exits.db.session() as s:
        assert s.get(Loan, exits.ids["loan"]).status == "written_off"


def test_a_package_is_built_and_sold_with_the_price_in_yuan(exits):
    exits.login("supervisor")
    r = exits.post("/transfers", data={"code": "PKG-1", "loans": "L-NONE"})
    assert r.status_code == 422 and "找不到" in _error(r.text, "package", "loans")
    r = exits.post("/transfers", data={"code": "PKG-1", "loans": "L-LI"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    assert "L-LI" in exits.get(url).text and "草稿" in exits.get(url).text
    r = exits.post("/transfers", data={"code": "PKG-1", "loans": "L-LI"})
    assert r.status_code == 409 and "该资产包编号已存在" in r.text
    for price, message in (("abc", "最多两位小数"), ("12.345", "最多两位小数"), ("-1", "不能为负数")):
        r = exits.post(f"{url}/sale", data={"version": "1", "buyer": "某资产管理公司", "price": price})
        assert r.status_code == 422 and message in _error(r.text, "sale", "price"), price
        assert 'value="某资产管理公司"' in r.text
    r = exits.post(f"{url}/sale", data={"version": "1", "buyer": "某资产管理公司", "price": "1,000.00"},
                   follow_redirects=False)
    assert r.status_code == 303
    page = exits.get(url).text
    assert "已转让" in page and "1,000.00 元" in page
    with exits.db.session() as s:
        assert s.query(TransferPackage).one().price_fen == 100_000
