"""Credit-report objections on both backends: only credit:manage reaches them, recording one names the loan
(an unknown number refused next to the field), answering it with corrected months under its version (bad lines
and a stale form refused), and the list by answer date with the late ones marked."""

from __future__ import annotations

import re

import pytest
from legal_desk_support import BUSINESS_DATE, NAME, xiao_li

from arrears.credit.tables import CreditCorrection, CreditObjection

pytestmark = pytest.mark.business_date(BUSINESS_DATE)


@pytest.fixture
def desk(db, tmp_path, secret_key, make_client):
    ids = xiao_li(db, tmp_path, secret_key, legal=False)
    with make_client("compliance", "supervisor", "collector") as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def _error(html: str, form: str, field: str) -> str:
    found = re.search(rf'id="{form}-{field}-error" role="alert">(.*?)</p>', html, re.DOTALL)
    return found.group(1) if found else ""


def test_record_then_answer_an_objection(desk):
    desk.login("collector")
    assert desk.get("/credit/objections").status_code == 403
    assert desk.post("/credit/objections", data={"loan_no": "L-LI", "claim": "x"}).status_code == 403
    desk.post("/logout")
    desk.login("compliance")
    r = desk.post("/credit/objections", data={"loan_no": "L-NONE", "received_on": "", "claim": "三月并未逾期"})
    assert r.status_code == 422 and "找不到" in _error(r.text, "record", "loan_no") and "三月并未逾期</textarea>" in r.text
    r = desk.post("/credit/objections", data={"loan_no": "L-LI", "received_on": "2024-04-01",
                                              "claim": "三月并未逾期"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    page = desk.get(url).text
    assert "三月并未逾期" in page and "李*明" in page and NAME not in page
    assert "2024年4月21日" in page and "已超期" in page  # 20 days to answer, passed on 06-03
    listing = desk.get("/credit/objections").text
    assert 'class="overdue"' in listing and "L-LI" in listing and "共 1 件异议" in listing

    r = desk.post(f"{url}/answer", data={"version": "1", "decision": "upheld", "reply": "已更正",
                                         "corrections": "2024/03 N"})
    assert r.status_code == 422 and "每行一个月份" in _error(r.text, "answer", "corrections")
    r = desk.post(f"{url}/answer", data={"version": "1", "decision": "upheld", "reply": "已更正",
                                         "corrections": "2024-03 Z"})
    assert r.status_code == 422 and "状态代码" in r.text
    r = desk.post(f"{url}/answer", data={"version": "2", "decision": "upheld", "reply": "已更正",
                                         "corrections": "2024-03 N"})
    assert r.status_code == 409 and "他人已修改了这件异议" in r.text
    r = desk.post(f"{url}/answer", data={"version": "1", "decision": "upheld", "reply": "核实后已更正三月记录",
                                         "corrections": "2024-03 N"}, follow_redirects=False)
    assert r.status_code == 303
    page = desk.get(url).text
    assert "异议成立" in page and "2024-03 → N" in page and "逾期答复" in page
    with desk.db.session() as s:
        assert s.query(CreditObjection).one().status == "upheld"
        assert [c.code for c in s.query(CreditCorrection)] == ["N"]
    desk.post("/logout")
    desk.login("supervisor")
    assert NAME in desk.get(url).text
