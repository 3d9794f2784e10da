"""SMS through a pluggable gateway: the HTTP webhook against a local gateway (retries with exponential backoff,
one delivery per dedupe key whatever happens) and the demo's JSON-lines file."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from contact_helpers import NOW, PHONE, gateway, make_borrower, queue, row  # noqa: F401

from arrears.contact.channels import FileSmsChannel, OutgoingMessage, WebhookSmsChannel
from arrears.contact.worker import RetryPolicy, run_worker
from support import CIPHER

POLICY = RetryPolicy(max_attempts=3, base_delay_s=60)
KEY = "overdue:L1:2026-03-10"


def webhook(gw) -> WebhookSmsChannel:
    return WebhookSmsChannel(gw.url, token="t0ken", client=httpx.Client(timeout=10, trust_env=False))


def _run(db, gw, at):
    return run_worker(db.factory, {"sms": webhook(gw)}, cipher=CIPHER, now=at, policy=POLICY)


def test_a_500_then_success_is_one_delivery_after_backoff(db, gateway):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "sms", KEY)
    gateway.plan = ["500"]
    assert _run(db, gateway, NOW).retrying == 1
    m = row(db, KEY)
    assert (m.status, m.attempts, m.last_error, m.next_attempt_at) == ("failed", 1, "sms.http_500",
                                                                       NOW + timedelta(seconds=60))
    assert _run(db, gateway, NOW + timedelta(seconds=59)).claimed == 0  # not before the backoff
    assert _run(db, gateway, NOW + timedelta(seconds=60)).sent == 1
    m = row(db, KEY)
    assert (m.status, m.attempts, m.provider_message_id, m.last_error) == ("sent", 2, "sms-1", None)
    assert len(gateway.deliveries) == 1 and [k for k, _ in gateway.requests] == [KEY, KEY]
    body = gateway.deliveries[0]
    assert body["to"] == PHONE and body["reference"] == KEY and "612.34 元" in body["text"]
    assert body["text"].startswith("【普惠示范银行】")


def test_accepted_but_answered_500_is_not_sent_twice(db, gateway):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "sms", KEY)
    gateway.plan = ["deliver_then_500"]
    _run(db, gateway, NOW)
    assert row(db, KEY).status == "failed" and len(gateway.deliveries) == 1
    _run(db, gateway, NOW + timedelta(minutes=1))
    m = row(db, KEY)
    assert (m.status, m.provider_message_id) == ("sent", "sms-1")
    assert len(gateway.deliveries) == 1 and len(gateway.requests) == 2


def test_dead_after_max_attempts_with_exponential_backoff(db, gateway):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "sms", KEY)
    gateway.plan = ["500"] * 5
    at = NOW
    waits = []
    for _ in range(3):
        _run(db, gateway, at)
        m = row(db, KEY)
        waits.append(m.next_attempt_at - at)
        at = m.next_attempt_at
    assert waits[:2] == [timedelta(seconds=60), timedelta(seconds=120)]
    assert (m.status, m.attempts, m.last_error) == ("dead", 3, "sms.http_500")
    assert _run(db, gateway, at + timedelta(days=1)).claimed == 0
    assert gateway.deliveries == [] and len(gateway.requests) == 3


def test_a_refusal_is_dead_at_once(db, gateway):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "sms", KEY)
    gateway.plan = ["400"]
    assert _run(db, gateway, NOW).dead == 1
    assert (row(db, KEY).status, row(db, KEY).last_error) == ("dead", "sms.http_400")


def _message(key: str = KEY) -> OutgoingMessage:
    return OutgoingMessage(id=7, dedupe_key=key, channel="sms", borrower_id=1, loan_id=1, template="overdue_notice",
                           language="zh-CN", recipient=PHONE, subject="s", body="您好,张三", created_at=NOW)


def test_a_duplicate_key_is_not_delivered_again(gateway):  # noqa: F811
    channel = webhook(gateway)
    assert channel.send(_message()) == channel.send(_message()) == "sms-1"
    assert channel.send(_message("other")) == "sms-2"
    assert len(gateway.deliveries) == 2 and len(gateway.requests) == 3


def test_the_file_gateway_keeps_one_line_per_key(tmp_path):
    path = tmp_path / "outbox" / "sms.jsonl"
    first = FileSmsChannel(path).send(_message())
    with path.open("ab") as f:
        f.write(b'{"id": "cut short by a cr')  # a crash in the middle of another write
    assert FileSmsChannel(path).send(_message()) == first  # a new process: the file is the record
    second = FileSmsChannel(path).send(_message("k2"))
    lines = path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines if line.startswith(b'{"id": "file')]
    assert [r["dedupe_key"] for r in records] == [KEY, "k2"] and second != first
    assert records[0]["to"] == "138****5678" and records[0]["text"] == "您好,张三"
    assert PHONE not in path.read_text(encoding="utf-8")
