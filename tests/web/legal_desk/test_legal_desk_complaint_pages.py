"""The complaint desk's pages on both backends: who may see them, the list by SLA date with the overdue marked,
filters and paging, a complaint's page (words decrypted, borrower masked for roles without personal data, the
cases it freezes), taking one on and resolving it, validation and stale forms, and the statistics chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from legal_desk_support import BUSINESS_DATE, NAME, complain, xiao_li

from arrears.auth import service as auth
from arrears.complaints.tables import Complaint
from support import PASSWORD

pytestmark = pytest.mark.business_date(BUSINESS_DATE)


@pytest.fixture
def desk(db, tmp_path, secret_key, make_client):
    ids = xiao_li(db, tmp_path, secret_key, legal=False)
    with db.session() as s:
        auth.create_user(s, username="xiaoli", display_name=NAME, password=PASSWORD, role="borrower", actor="t",
                         borrower_id=ids["borrower"])
        s.commit()
    ids["late"] = complain(db, secret_key, ids["borrower"], filed_at=datetime(2024, 5, 1, 2, 0, tzinfo=UTC),
                           case_id=ids["case"])  # due 05-16: past its SLA on 06-03
    ids["fresh"] = complain(db, secret_key, ids["borrower"], category="credit_report",
                            text="征信记录有误")  # filed 05-30, due 06-19
    with make_client("compliance", "supervisor", "collector") as client:
        client.ids = ids  # type: ignore[attr-defined]
        yield client


def _rows(html: str) -> list[str]:
    return re.findall(r'<a href="/complaints/(\d+)">', html)


def test_only_complaint_handlers_reach_the_desk(desk):
    cid = desk.ids["late"]
    assert desk.get("/complaints", follow_redirects=False).headers["location"] == "/login"
    desk.login("collector")
    for path in ("/complaints", f"/complaints/{cid}", "/complaints/stats"):
        r = desk.get(path)
        assert r.status_code == 403 and "无权访问" in r.text and "晚上十点" not in r.text, path
    r = desk.post(f"/complaints/{cid}/take", data={"version": "1"})
    assert r.status_code == 403
    desk.post("/logout")
    desk.login("xiaoli")  # a borrower follows their complaints in the portal, never on the desk
    for path in ("/complaints", f"/complaints/{cid}"):
        assert desk.get(path, follow_redirects=False).headers["location"] == "/portal"
    with desk.db.session() as s:
        assert s.get(Complaint, cid).status == "open"


def test_desk_lists_by_reply_date_marks_the_late_and_filters(desk):
    desk.login("compliance")
    html = desk.get("/complaints").text
    assert _rows(html) == [str(desk.ids["late"]), str(desk.ids["fresh"])]  # earliest reply date first
    assert html.count('class="overdue"') == 1 and "已超期" in html and "2024年5月16日" in html
    assert "共 2 件投诉" in html and "B-LI" in html
    only = desk.get("/complaints?category=credit_report").text
    assert _rows(only) == [str(desk.ids["fresh"])]
    recent = desk.get("/complaints?period=7").text  # filed in the last 7 days: 05-28 … 06-03
    assert _rows(recent) == [str(desk.ids["fresh"])]
    assert _rows(desk.get("/complaints?status=resolved").text) == []


def test_desk_pages_through_complaints(desk, secret_key):
    start = datetime(2024, 5, 20, 2, 0, tzinfo=UTC)
    for k in range(50):
        complain(desk.db, secret_key, desk.ids["borrower"], filed_at=start + timedelta(hours=k))
    desk.login("compliance")
    first = desk.get("/complaints").text
    assert len(_rows(first)) == 50 and "第 1 / 2 页" in first and 'rel="next"' in first
    second = desk.get("/complaints?page=2").text
    assert len(_rows(second)) == 2 and 'rel="prev"' in second and 'rel="next"' not in second
    assert set(_rows(first)).isdisjoint(_rows(second))


def test_complaint_page_masks_the_borrower_for_compliance_and_shows_what_it_freezes(desk):
    cid = desk.ids["late"]
    desk.login("compliance")
    page = desk.get(f"/complaints/{cid}").text
    assert "晚上十点后还打电话" in page  # the words, decrypted for the desk
    assert "李*明" in page and NAME not in page and "3101**********1234" in page
    assert "L-LI" in page and f"案件 {desk.ids['case']}" in page  # the open case contact is frozen on
    assert "complaint.filed" in page  # history
    desk.post("/logout")
    desk.login("supervisor")
    assert NAME in desk.get(f"/complaints/{cid}").text
    assert desk.get("/complaints/999999").status_code == 404


def test_take_on_then_resolve_with_validation_and_a_stale_form(desk):
    cid = desk.ids["late"]
    desk.login("compliance")
    r = desk.post(f"/complaints/{cid}/take", data={"version": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/complaints/{cid}"
    page = desk.get(f"/complaints/{cid}").text
    assert "处理中" in page and "这件投诉由您处理" in page and 'name="version" value="2"' in page

    r = desk.post(f"/complaints/{cid}/close", data={"version": "2", "outcome": "resolved", "resolution": "  "})
    assert r.status_code == 422
    assert re.search(r'aria-describedby="close-resolution-error"', r.text)
    assert '<p class="error" id="close-resolution-error" role="alert">必填</p>' in r.text

    r = desk.post(f"/complaints/{cid}/close", data={"version": "1", "outcome": "resolved",
                                                     "resolution": "已致歉并调整联系时间"})
    assert r.status_code == 409 and "他人已修改了这件投诉" in r.text
    assert "已致歉并调整联系时间</textarea>" in r.text  # what was typed is kept
    with desk.db.session() as s:
        assert s.get(Complaint, cid).status == "in_progress"

    r = desk.post(f"/complaints/{cid}/close", data={"version": "2", "outcome": "resolved",
                                                     "resolution": "已致歉并调整联系时间"}, follow_redirects=False)
    assert r.status_code == 303
    page = desk.get(f"/complaints/{cid}").text
    assert "已解决" in page and "已致歉并调整联系时间" in page and "投诉已办结" in page
    assert "办结投诉" not in page  # no form on a closed complaint
    r = desk.post(f"/complaints/{cid}/take", data={"version": "3"})
    assert r.status_code == 409 and "这件投诉已经办结" in r.text


def test_statistics_count_by_category_and_status_with_a_bar_chart(desk):
    desk.login("compliance")
    html = desk.get("/complaints/stats").text
    assert "超过答复期限未办结" in html and "尚无办结" in html
    assert html.count("<rect ") == 2 and "催收骚扰" in html and "征信异议" in html
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', html)]
    assert widths == [420, 420]  # one complaint each: equal bars at full width
    desk.cookies.set("lang", "en")
    assert "Harassment" in desk.get("/complaints/stats").text
