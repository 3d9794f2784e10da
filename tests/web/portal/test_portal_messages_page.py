"""Messages: the borrower's in-app inbox (written by the outbox worker's in-app channel), marking one read;
nobody else's messages."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from arrears.contact.channels import InAppChannel
from arrears.contact.outbox import queue_message
from arrears.contact.tables import InAppMessage
from arrears.contact.worker import run_worker


def _deliver(portal, who: str, key: str) -> int:
    """A message queued for the borrower's inbox and sent by the worker."""
    with portal.db.session() as s:
        queue_message(s, cipher=portal.cipher, borrower_id=portal.ids[f"{who}_borrower"], channel="app",
                      template="credit_objection_answer", dedupe_key=key,
                      variables={"borrower_name": "王小明", "loan_no": "L1", "received_on": date(2026, 6, 1),
                                 "outcome": "已更正"})
        s.commit()
    run_worker(portal.db.factory, {"app": InAppChannel(portal.db.factory, portal.cipher)}, cipher=portal.cipher)
    with portal.db.session() as s:
        return s.scalar(select(InAppMessage.id).where(InAppMessage.dedupe_key == key))


def test_the_inbox_shows_messages_and_marks_them_read(portal):
    mid = _deliver(portal, "mine", "objection:1")
    portal.sign_in()
    page = portal.get("/portal/messages").text
    assert "已更正" in page and "L1" in page and "标为已读" in page and '<span class="tag">新</span>' in page
    r = portal.post(f"/portal/messages/{mid}/read", follow_redirects=False)
    assert r.status_code == 303
    page = portal.get("/portal/messages").text
    assert "标为已读" not in page and "已更正" in page
    with portal.db.session() as s:
        assert s.get(InAppMessage, mid).read_at is not None


def test_an_empty_inbox_says_so(portal):
    portal.sign_in()
    assert "暂无消息" in portal.get("/portal/messages").text


def test_another_borrowers_message_is_neither_shown_nor_marked(portal):
    theirs = _deliver(portal, "other", "objection:2")
    portal.sign_in()
    assert "已更正" not in portal.get("/portal/messages").text
    assert portal.post(f"/portal/messages/{theirs}/read").status_code == 404
    with portal.db.session() as s:
        assert s.get(InAppMessage, theirs).read_at is None
