"""Queueing: in the caller's transaction (a rollback leaves nothing), deduplicated by key, encrypted at rest,
with an audit event; refusals name the field and rule without repeating personal data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from contact_helpers import ADDRESS, EMAIL, NOW, OVERDUE, PHONE, make_borrower, queue, row
from sqlalchemy import func, select

from arrears.audit.tables import Event
from arrears.contact.outbox import queue_message, sent_history
from arrears.contact.tables import OutboxMessage
from arrears.db.engine import unit_of_work
from arrears.errors import Conflict, InvalidInput
from support import CIPHER, add_borrower


def _count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


def test_queued_in_the_callers_transaction(db):
    borrower = make_borrower(db)
    with pytest.raises(RuntimeError), unit_of_work(db.factory) as s:
        queue_message(s, cipher=CIPHER, borrower_id=borrower[0], loan_id=borrower[1], channel="sms",
                      template="overdue_notice", variables=OVERDUE, dedupe_key="overdue:L1:2026-03-10", now=NOW)
        raise RuntimeError("the decision failed after queueing")
    assert _count(db) == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.subject_type == "outbox_message")) == 0

    message_id = queue(db, borrower, "sms", "overdue:L1:2026-03-10")
    m = row(db, "overdue:L1:2026-03-10")
    assert (m.id, m.status, m.attempts, m.next_attempt_at, m.language) == (message_id, "pending", 0, NOW, "zh-CN")
    assert (m.purpose, m.quiet_profile, m.borrower_tz) == ("collect", "cn-bank", "Asia/Shanghai")
    assert CIPHER.decrypt(m.recipient_enc) == PHONE and "612.34 元" in CIPHER.decrypt(m.body_enc)
    raw = b"".join(v for v in (m.recipient_enc, m.subject_enc, m.body_enc))
    assert PHONE.encode() not in raw and "张三".encode() not in raw
    with db.session() as s:
        event = s.scalars(select(Event).where(Event.subject_type == "outbox_message")).one()
    assert (event.action, event.subject_id, event.borrower_id) == ("outbox.queued", str(m.id), borrower[0])
    assert event.after["dedupe_key"] == "overdue:L1:2026-03-10" and PHONE not in str(event.after)


def test_same_key_same_message_once_different_message_conflict(db):
    borrower = make_borrower(db)
    first = queue(db, borrower, "email", "overdue:L1:1")
    assert queue(db, borrower, "email", "overdue:L1:1", now=NOW + timedelta(hours=1)) == first
    assert _count(db) == 1
    with pytest.raises(Conflict) as exc:
        queue(db, borrower, "email", "overdue:L1:1", variables={**OVERDUE, "days_overdue": 34})
    assert exc.value.rule == "outbox.dedupe_key_reused"
    with pytest.raises(Conflict):
        queue(db, borrower, "sms", "overdue:L1:1")


def test_recipient_defaults_per_channel_and_language(db):
    borrower = make_borrower(db, language="en")
    queue(db, borrower, "email", "k:email")
    queue(db, borrower, "letter", "k:letter")
    queue(db, borrower, "app", "k:app", language="zh-CN")
    email, letter, app = row(db, "k:email"), row(db, "k:letter"), row(db, "k:app")
    assert CIPHER.decrypt(email.recipient_enc) == EMAIL and email.language == "en"
    assert "CNY 612.34" in CIPHER.decrypt(email.body_enc)
    assert CIPHER.decrypt(letter.recipient_enc) == f"张三\n{ADDRESS}"
    assert app.recipient_enc is None and app.language == "zh-CN"


@pytest.mark.parametrize(("kw", "field", "rule"), [
    ({"dedupe_key": "overdue 张三"}, "dedupe_key", "outbox.dedupe_key_format"),
    ({"channel": "fax"}, "channel", "outbox.channel"),
    ({"recipient": "not-an-address"}, "recipient", "recipient.format"),
    ({"channel": "app", "recipient": "x@example.cn"}, "recipient", "recipient.not_applicable"),
    ({"template": "one_time_code"}, "variables.amount_owed_fen", "template.unknown_variable"),
    ({"profile": "eu-gdpr"}, "profile", "outbox.profile"),
    ({"expires_at": NOW}, "expires_at", "outbox.expired"),
])
def test_refusals_name_field_and_rule(db, kw, field, rule):
    borrower = make_borrower(db)
    args = {"channel": "email", "template": "overdue_notice", "variables": OVERDUE, "dedupe_key": "k1", **kw}
    with pytest.raises(InvalidInput) as exc, unit_of_work(db.factory) as s:
        queue_message(s, cipher=CIPHER, borrower_id=borrower[0], loan_id=borrower[1], now=NOW, **args)
    assert (exc.value.field, exc.value.rule) == (field, rule)
    assert "not-an-address" not in str(exc.value)
    assert _count(db) == 0


def test_no_address_on_file_and_a_loan_of_someone_else(db):
    borrower = make_borrower(db)
    with unit_of_work(db.factory) as s:
        other = add_borrower(s, no="B2", id_number="110101199003075678", phone="13900000000").id
    with pytest.raises(InvalidInput) as exc, unit_of_work(db.factory) as s:
        queue_message(s, cipher=CIPHER, borrower_id=other, channel="email", template="overdue_notice",
                      variables=OVERDUE, dedupe_key="k2", now=NOW)
    assert exc.value.rule == "recipient.missing"
    with pytest.raises(InvalidInput) as exc, unit_of_work(db.factory) as s:
        queue_message(s, cipher=CIPHER, borrower_id=other, loan_id=borrower[1], channel="sms",
                      template="overdue_notice", variables=OVERDUE, dedupe_key="k3", now=NOW)
    assert exc.value.rule == "outbox.loan_of_borrower"


def test_not_before_and_sent_history(db):
    borrower = make_borrower(db)
    queue(db, borrower, "sms", "k:later", not_before=NOW + timedelta(hours=3))
    assert row(db, "k:later").next_attempt_at == NOW + timedelta(hours=3)
    with db.session() as s:
        assert sent_history(s, borrower[0]) == ()
