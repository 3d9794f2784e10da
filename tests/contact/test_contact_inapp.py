"""In-app messages, and what the worker does before any channel is called: quiet hours, expiry, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from contact_helpers import NOW, make_borrower, queue, row
from sqlalchemy import select

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.contact.channels import FileSmsChannel, InAppChannel
from arrears.contact.inbox import inbox, mark_read
from arrears.contact.outbox import sent_history
from arrears.contact.tables import InAppMessage
from arrears.contact.worker import run_worker
from arrears.db.engine import unit_of_work
from arrears.errors import NotFound
from support import CIPHER


def test_in_app_message_reaches_the_inbox_once(db):
    borrower = make_borrower(db)
    queue(db, borrower, "app", "app:overdue:L1")
    channel = InAppChannel(db.factory, CIPHER)
    assert run_worker(db.factory, {"app": channel}, cipher=CIPHER, now=NOW).sent == 1
    m = row(db, "app:overdue:L1")
    with db.session() as s:
        items = inbox(s, borrower[0], CIPHER)
        stored = s.scalars(select(InAppMessage)).one()
    assert len(items) == 1 and m.provider_message_id == f"inapp:{items[0].id}"
    assert items[0].subject == "【普惠示范银行】逾期还款通知:贷款 L1" and "612.34 元" in items[0].body
    assert "张三".encode() not in stored.body_enc and stored.outbox_id == m.id
    # A repeated send (a crash before the mark) finds the row instead of writing a second one.
    assert channel.send(_outgoing(m)) == m.provider_message_id
    with unit_of_work(db.factory) as s:
        mark_read(s, borrower[0], items[0].id, now=NOW)
        mark_read(s, borrower[0], items[0].id, now=NOW + timedelta(hours=1))
        with pytest.raises(NotFound):
            mark_read(s, borrower[0] + 1, items[0].id)
    with db.session() as s:
        assert inbox(s, borrower[0], CIPHER)[0].read_at == NOW
        assert [(a.method, a.outcome, a.at) for a in sent_history(s, borrower[0])] == [("app", "sent", NOW)]
        actions = [e.action for e in s.scalars(select(Event).where(Event.subject_type.in_(
            ("outbox_message", "inapp_message"))).order_by(Event.id))]
        assert actions == ["outbox.queued", "outbox.sent", "inapp.read"]
        assert verify_events(s)[1] == []


def _outgoing(m):
    from arrears.contact.channels import OutgoingMessage

    return OutgoingMessage(m.id, m.dedupe_key, m.channel, m.borrower_id, m.loan_id, m.template, m.language, None,
                           CIPHER.decrypt(m.subject_enc), CIPHER.decrypt(m.body_enc), m.created_at)


def test_collection_messages_wait_for_the_end_of_quiet_hours(db, tmp_path):
    borrower = make_borrower(db)
    late = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    queue(db, borrower, "app", "k:notice", now=late)
    queue(db, borrower, "sms", "k:otp", template="one_time_code", variables={"code": "4821", "valid_minutes": 10},
          now=late, expires_at=late + timedelta(minutes=10))
    channels = {"app": InAppChannel(db.factory, CIPHER), "sms": FileSmsChannel(tmp_path / "sms.jsonl")}
    report = run_worker(db.factory, channels, cipher=CIPHER, now=late)
    assert (report.sent, report.held) == (1, 1)  # the code the borrower asked for goes out at once
    assert row(db, "k:otp").status == "sent"
    held = row(db, "k:notice")
    assert (held.status, held.attempts, held.next_attempt_at) == ("pending", 0, datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
    assert run_worker(db.factory, {"app": InAppChannel(db.factory, CIPHER)}, cipher=CIPHER,
                      now=datetime(2026, 3, 11, 0, 0, tzinfo=UTC)).sent == 1


def test_an_expired_message_is_dead_without_an_attempt(db, tmp_path):
    borrower = make_borrower(db)
    queue(db, borrower, "sms", "k:otp", template="one_time_code", variables={"code": "4821", "valid_minutes": 10},
          expires_at=NOW + timedelta(minutes=10))
    report = run_worker(db.factory, {"sms": FileSmsChannel(tmp_path / "sms.jsonl")}, cipher=CIPHER,
                        now=NOW + timedelta(minutes=11))
    m = row(db, "k:otp")
    assert (report.dead, m.status, m.attempts, m.last_error) == (1, "dead", 0, "expired")
    assert not (tmp_path / "sms.jsonl").exists()


def test_messages_of_channels_not_given_stay_queued(db):
    borrower = make_borrower(db)
    queue(db, borrower, "email", "k:email")
    assert run_worker(db.factory, {"app": InAppChannel(db.factory, CIPHER)}, cipher=CIPHER, now=NOW).claimed == 0
    assert row(db, "k:email").status == "pending"
