"""The case page's letter form on both backends: the templates the stage allows, a preview (Chinese by default,
English on request, the name masked for a collector) that writes nothing, sending through the guard and the
outbox (in the list and the timeline), the guard's refusal shown and logged, errors next to their field, and
who may use it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from workbench_world import LATE

from arrears.audit.tables import Event
from arrears.cases.tables import ContactLog
from arrears.contact.tables import OutboxMessage

pytestmark = pytest.mark.business_date("2026-03-10")
NOTICE = {"template": "overdue_notice", "channel": "sms", "language": "zh-CN"}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _outbox(db) -> list[OutboxMessage]:
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        s.expunge_all()
        return rows


def _case_events(db, case: int) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(e.action, e.actor) for e in s.scalars(select(Event).where(
            Event.subject_type == "case", Event.subject_id == str(case)).order_by(Event.id))]


def test_preview_then_send_through_the_outbox(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    page = site.get(f"/cases/{case}").text
    form = page[page.index('id="letter-form"'):page.index("</form>", page.index('id="letter-form"'))]
    assert '<option value="overdue_notice"' in form and '<option value="promise_confirmation"' in form
    assert '<option value="lawyer_letter"' not in form  # the legal officer's, not the stage's
    assert 'value="zh-CN" lang="zh-CN" selected' in form  # Chinese first

    preview = site.get(f"/cases/{case}/letter", params=NOTICE)
    assert preview.status_code == 200
    text = _text(preview.text)
    assert "逾期还款通知" in text and "王*明" in text and "王小明" not in text  # masked for a collector
    assert "已逾期 30 天" in text and "609.00" in text  # from the last end of day
    assert _outbox(db) == [] and _case_events(db, case) == []  # a preview writes nothing
    english = _text(site.get(f"/cases/{case}/letter", params={**NOTICE, "language": "en"}).text)
    assert "Dear 王*明" in english and "30 days overdue" in english

    r = site.post(f"/cases/{case}/letter", data=NOTICE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case}?done=letter"
    [m] = _outbox(db)
    assert (m.case_id, m.template, m.channel, m.language, m.status) == (case, "overdue_notice", "sms", "zh-CN",
                                                                       "pending")
    assert _case_events(db, case) == [("letter.queued", "col1")]
    page = _text(site.get(r.headers["location"]).text)
    assert "信函已进入发件队列" in page and "信函或通知已排队发送" in page  # done, and in the timeline
    assert "逾期通知" in page and "待发送" in page  # in the case's letters and notices
    again = site.post(f"/cases/{case}/letter", data=NOTICE, follow_redirects=False)
    assert again.headers["location"] == f"/cases/{case}?done=letter_again" and len(_outbox(db)) == 1


def test_the_guards_refusal_is_shown_with_its_reason_and_logged(site, db, clock):
    case = site.world.cases["owned"]
    site.login("col1")
    clock(LATE)  # 22:30 in Shanghai
    r = site.post(f"/cases/{case}/letter", data=NOTICE)
    assert r.status_code == 409 and 'id="refusal"' in r.text and "quiet_hours" in r.text
    assert "北京时间" in r.text  # when it may be tried again
    assert _outbox(db) == [] and _case_events(db, case) == [("letter.refused", "col1")]
    with db.session() as s:
        assert s.scalars(select(ContactLog.refused_rule)).all() == ["quiet_hours"]


def test_errors_sit_next_to_their_field(site, db):
    case = site.world.cases["owned"]
    site.login("col1")
    r = site.get(f"/cases/{case}/letter", params={**NOTICE, "template": "lawyer_letter"})
    assert r.status_code == 400 and 'id="letter-template-error"' in r.text and "本案件当前阶段不发送该模板" in r.text
    r = site.post(f"/cases/{case}/letter", data={**NOTICE, "channel": "call"})
    assert r.status_code == 400 and 'id="letter-channel-error"' in r.text
    r = site.get(f"/cases/{case}/letter", params={**NOTICE, "template": "promise_confirmation"})
    assert r.status_code == 409 and "本案件没有待履行的还款承诺可供确认" in r.text
    r = site.post(f"/cases/{case}/letter", data={**NOTICE, "channel": "letter"})  # no postal address on file
    assert r.status_code == 400 and _outbox(db) == []
    assert _case_events(db, case) == []


def test_who_may_send(site, db):
    w = site.world
    site.login("col2")  # another team's collector: the case is not theirs to see
    assert site.get(f"/cases/{w.cases['owned']}/letter", params=NOTICE).status_code == 404
    assert site.post(f"/cases/{w.cases['owned']}/letter", data=NOTICE).status_code == 404
    site.post("/logout")
    site.login("wangxm")  # the borrower
    assert site.post(f"/cases/{w.cases['owned']}/letter", data=NOTICE).status_code == 404
    assert _outbox(db) == []
