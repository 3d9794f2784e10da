"""/cases/{id} on both backends: who may see it, masking, the guard's answers and a refusal shown with its
rule, contacts and promises with their errors next to the field, stage moves under the case's version, the
timeline, documents and the loan's link to its case."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from workbench_world import LATE

from arrears.audit.service import append_event
from arrears.cases.tables import Case, ContactLog, PromiseToPay
from arrears.complaints import service as complaints
from arrears.delinquency.tables import Transition
from arrears.privacy import PersonalDataCipher

pytestmark = pytest.mark.business_date("2026-03-10")


def test_scoped_like_the_api(site):
    w = site.world
    assert site.get(f"/cases/{w.cases['owned']}", follow_redirects=False).headers["location"] == "/login"
    site.login("col1")
    assert site.get(f"/cases/{w.cases['owned']}").status_code == 200
    assert site.get(f"/cases/{w.cases['team']}").status_code == 200  # a case of the collector's team
    assert site.get(f"/cases/{w.cases['other']}").status_code == 404  # another team's: not revealed
    assert site.get("/cases/999999").status_code == 404
    site.post("/logout")
    site.login("wangxm")  # the borrower of the case
    assert site.get(f"/cases/{w.cases['owned']}").status_code == 404


def test_personal_data_is_masked_for_a_collector_not_for_a_supervisor(site):
    case = site.world.cases["owned"]
    site.login("col1")
    page = site.get(f"/cases/{case}").text
    assert "王*" in page and "王小明" not in page and "138****5678" in page and "个人信息已按您的角色脱敏显示" in page
    site.post("/logout")
    site.login("sup1")
    page = site.get(f"/cases/{case}").text
    assert "王小明" in page and "13812345678" in page


def test_the_guard_panel_and_a_refusal_with_its_rule(site, clock, db):
    case = site.world.cases["owned"]
    site.login("col1")
    page = site.get(f"/cases/{case}").text
    assert "合规检查：现在可以怎样联系" in page and 'class="ok"' in page
    clock(LATE)  # 22:30 in Shanghai
    page = site.get(f"/cases/{case}").text
    assert "quiet_hours" in page and "自北京时间 2026年3月11日 08:00 起可再次联系" in page
    r = site.post(f"/cases/{case}/contact", data={"method": "call", "purpose": "collect", "outcome": "",
                                                  "note": "晚上打"})
    assert r.status_code == 409
    assert 'id="refusal"' in r.text and "quiet_hours" in r.text and 'value="call" selected' in r.text
    with db.session() as s:  # the refused attempt is in the contact log, as through the API
        row = s.scalars(select(ContactLog).where(ContactLog.case_id == case)).one()
        assert (row.allowed, row.refused_rule) == (False, "quiet_hours")


def test_a_contact_is_recorded_and_shown(site):
    case = site.world.cases["owned"]
    site.login("col1")
    r = site.post(f"/cases/{case}/contact", data={"method": "call", "purpose": "collect",
                                                  "outcome": "no_answer", "note": ""}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=contact"
    page = site.get(r.headers["location"]).text
    assert "联系已登记" in page and "无人接听" in page and "contact.logged" in page


def test_contact_form_errors_next_to_the_field(site):
    site.login("col1")
    r = site.post(f"/cases/{site.world.cases['owned']}/contact", data={"method": "pigeon", "purpose": ""})
    assert r.status_code == 400
    assert 'id="contact-method-error"' in r.text and 'id="contact-purpose-error"' in r.text


def test_a_promise_to_pay_and_a_second_one_refused(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    r = site.post(f"/cases/{case}/promise", data={"amount": "609.00", "due_on": "2026-03-20", "method": "call"},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    page = site.get(r.headers["location"]).text
    assert "还款承诺已登记" in page and "609.00" in page and "promise.made" in page and "2026年3月20日" in page
    again = site.post(f"/cases/{case}/promise", data={"amount": "100", "due_on": "2026-03-21", "method": "call"})
    assert again.status_code == 409 and 'id="promise-form-error"' in again.text and "已有一项未到结果的还款承诺" in again.text
    assert 'value="100"' in again.text  # the typed values are kept
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PromiseToPay)) == 1
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 1  # the refused form logged nothing


@pytest.mark.parametrize(("amount", "due_on", "field", "text"), [
    ("", "2026-03-20", "amount", "必填"),
    ("12.345", "2026-03-20", "amount", "最多两位小数"),
    ("abc", "2026-03-20", "amount", "最多两位小数"),
    ("0", "2026-03-20", "amount", "金额必须大于零"),
    ("100", "", "due_on", "必填"),
    ("100", "20/03/2026", "due_on", "年-月-日"),
    ("100", "2026-03-09", "due_on", "承诺最长期限"),  # before today (service rule promise.horizon)
    ("100", "2026-06-01", "due_on", "承诺最长期限"),  # beyond the policy's horizon
])
def test_promise_errors_next_to_the_field(site, db, amount, due_on, field, text):
    site.login("col1")
    r = site.post(f"/cases/{site.world.cases['owned']}/promise", data={"amount": amount, "due_on": due_on,
                                                                       "method": "call"})
    assert r.status_code == 400
    error = re.search(rf'<p class="error" id="promise-{field}-error">([^<]*)</p>', r.text)
    assert error and text in error.group(1), r.text[:200]
    assert f'value="{amount}"' in r.text
    with db.session() as s:  # nothing half-done: no contact, no promise
        assert s.scalar(select(func.count()).select_from(ContactLog)) == 0
        assert s.scalar(select(func.count()).select_from(PromiseToPay)) == 0


def test_a_stale_stage_move_says_so_and_overwrites_nothing(site):
    case = site.world.cases["owned"]
    site.login("col1")
    page = site.get(f"/cases/{case}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    ok = site.post(f"/cases/{case}/stage", data={"to_stage": "field_visit", "reason": "联系不上",
                                                 "version": version}, follow_redirects=False)
    assert ok.status_code == 303
    stale = site.post(f"/cases/{case}/stage", data={"to_stage": "legal", "reason": "再升级", "version": version})
    assert stale.status_code == 409 and 'id="stale"' in stale.text and "其他人已修改了这个案件" in stale.text
    assert "<small>上门 ·" in stale.text  # the page shows the case as it is now
    assert "case.stage_moved" in site.get(f"/cases/{case}").text


def test_a_stage_move_needs_a_reason(site):
    case = site.world.cases["owned"]
    site.login("col1")
    r = site.post(f"/cases/{case}/stage", data={"to_stage": "field_visit", "reason": " ", "version": "1"})
    assert r.status_code == 400 and 'id="stage-reason-error"' in r.text


def test_only_managers_close(site):
    case = site.world.cases["owned"]
    site.login("col1")
    assert site.post(f"/cases/{case}/close", data={"close_reason": "settled", "version": "1"}).status_code == 403
    site.post("/logout")
    site.login("sup1")
    r = site.post(f"/cases/{case}/close", data={"close_reason": "settled", "reason": "和解", "version": "1"},
                  follow_redirects=False)
    assert r.status_code == 303 and "已关闭" in site.get(r.headers["location"]).text


def test_a_complaint_freezes_contact_on_the_page(site, db, secret_key):
    w = site.world
    with db.session() as s:
        complaints.file_complaint(s, cipher=PersonalDataCipher(secret_key), borrower_id=w.borrowers["owned"],
                                  category="harassment", channel="phone", text="电话太多",
                                  filed_at=datetime(2026, 3, 9, 2, tzinfo=UTC), actor="setup")
        s.commit()
    site.login("col1")
    page = site.get(f"/cases/{w.cases['owned']}").text
    assert '<p class="flag">有未结投诉：暂停联系</p>' in page and "open_complaint" in page
    r = site.post(f"/cases/{w.cases['owned']}/contact", data={"method": "call", "purpose": "collect"})
    assert r.status_code == 409 and 'id="refusal"' in r.text and "open_complaint" in r.text


def test_the_timeline_pages_newest_first(site):
    case = site.world.cases["owned"]
    site.login("col1")
    for _ in range(22):
        site.post(f"/cases/{case}/contact", data={"method": "call", "purpose": "collect", "outcome": "no_answer"})
    first = site.get(f"/cases/{case}").text
    assert 'rel="next">较早</a>' in first
    second = site.get(f"/cases/{case}?events=2").text
    assert 'rel="prev">较新</a>' in second
    times = re.findall(r'<time datetime="([^"]+)"', first.split('id="timeline"')[1])
    assert len(times) == 20 and times == sorted(times, reverse=True)
    # shown in Beijing time, as the page's language writes dates (stored in UTC)
    at = datetime.fromisoformat(times[0]).replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f'<time datetime="{times[0]}">{at.year}年{at.month}月{at.day}日 {at:%H:%M}</time>' in first


def test_a_loan_leads_to_its_open_case(site):
    w = site.world
    site.login("col1")
    assert f'href="/loans/{w.loans["owned"]}/case"' in site.get(f"/loans/{w.loans['owned']}").text
    r = site.get(f"/loans/{w.loans['owned']}/case", follow_redirects=False)
    assert r.headers["location"] == f"/cases/{w.cases['owned']}"


def test_documents_only_through_the_case(site):
    site.login("col1")
    case = site.world.cases["owned"]
    assert site.get(f"/cases/{case}/documents/agreement/1").status_code == 404
    assert site.get(f"/cases/{case}/documents/visit/1/{'0' * 64}").status_code == 404


def test_english(site, clock):
    clock(LATE)
    site.login("col1")
    page = site.get(f"/cases/{site.world.cases['owned']}?lang=en").text
    assert "What the compliance guard allows now" in page and "allowed again from 11 Mar 2026 08:00 Beijing time" in page
    assert "Record a promise to pay" in page


def test_a_case_in_the_queue_through_a_task_opens_in_the_page_and_the_api(site):
    """The queue shows a case through the collector's open task; the page and the API let them open it."""
    w = site.world
    site.login("col1")
    assert site.get(f"/cases/{w.cases['tasked']}").status_code == 200
    headers = site.bearer("col1")
    assert site.get(f"/api/v1/cases/{w.cases['tasked']}", headers=headers).status_code == 200
    assert site.get(f"/api/v1/cases/{w.cases['tasked']}", headers=site.bearer("col2")).status_code == 404


def test_what_end_of_day_wrote_reads_in_the_page_language(site, db):
    """The stage's next action, the levels in the arrears history and end of day's reasons in the timeline are
    stored as codes or English; the page says them in its language."""
    w = site.world
    with db.session() as s:
        case = s.get(Case, w.cases["owned"])
        case.next_action = "send the reminder notice"
        day = date(2026, 3, 9)
        for kind, before, after in (("bucket_up", "M0", "M1"), ("class_changed", "normal", "special_mention"),
                                    ("fully_paid", "false", "true")):
            s.add(Transition(business_date=day, loan_id=case.loan_id, borrower_id=case.borrower_id, kind=kind,
                             from_value=before, to_value=after))
        append_event(s, actor="strategy", action="case.stage_moved", subject_type="case", subject_id=case.id,
                     reason="strategy rule, end of day 2026-03-09")
        append_event(s, actor="collector", action="case.stage_moved", subject_type="case", subject_id=case.id,
                     reason="end of day, said the borrower")  # a person's words: shown as written
        s.commit()
    site.login("col1")
    page = site.get(f"/cases/{w.cases['owned']}").text
    history = page.split('id="delinquency"')[1].split("</section>")[0]
    assert "发送提醒通知" in page and "send the reminder notice" not in page
    assert "<td>正常</td><td>关注</td>" in history and "special_mention" not in history
    assert "<td>否</td><td>是</td>" in history
    assert "策略规则，日终批处理 2026年3月9日" in page and "end of day, said the borrower" in page
    english = site.get(f"/cases/{w.cases['owned']}?lang=en").text
    assert "send the reminder notice" in english and "<td>normal</td><td>special mention</td>" in english
    assert "strategy rule, end of day 9 Mar 2026" in english
