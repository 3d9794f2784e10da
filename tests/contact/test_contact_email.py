"""E-mail over real SMTP: the worker delivers to a local aiosmtpd server exactly once, with the Chinese subject,
sender name and body correctly encoded; refusals and outages follow the retry rules."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from contact_helpers import EMAIL, NOW, OVERDUE, free_port, make_borrower, queue, row, smtp_server  # noqa: F401

from arrears.contact.channels import ChannelError, OutgoingMessage, SmtpEmailChannel, SmtpSettings
from arrears.contact.worker import RetryPolicy, run_worker
from support import CIPHER


def smtp_channel(sink, tmp_path, **kw) -> SmtpEmailChannel:
    settings = SmtpSettings(host=sink.host, port=sink.port, tls="none", username="arrears", password="s3cret",
                            sender="notice@bank.example.cn", timeout_s=10, **kw)
    return SmtpEmailChannel(settings, tmp_path / "email-receipts")


def test_worker_delivers_once_with_chinese_encoded(db, smtp_server, tmp_path):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "email", "overdue:L1:2026-03-10")
    channels = {"email": smtp_channel(smtp_server, tmp_path)}
    report = run_worker(db.factory, channels, cipher=CIPHER, now=NOW)
    assert (report.claimed, report.sent) == (1, 1)
    assert run_worker(db.factory, channels, cipher=CIPHER, now=NOW + timedelta(days=1)).claimed == 0

    assert len(smtp_server.messages) == 1 and smtp_server.logins == ["arrears"]
    envelope = smtp_server.messages[0]
    assert envelope.mail_from == "notice@bank.example.cn" and envelope.rcpt_tos == [EMAIL]
    assert envelope.original_content.isascii()  # every header and the body are MIME-encoded on the wire
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == "【普惠示范银行】逾期还款通知:贷款 L1"
    assert mail["From"].addresses[0].display_name == "普惠示范银行"
    assert mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert "尊敬的张三" in body and "612.34 元" in body and "投诉热线 400-000-0001" in body

    m = row(db, "overdue:L1:2026-03-10")
    assert (m.status, m.attempts, m.sent_at, m.lease_until) == ("sent", 1, NOW, None)
    assert m.provider_message_id == mail["Message-ID"]


def test_the_channel_is_idempotent_by_key(smtp_server, tmp_path):  # noqa: F811
    channel = smtp_channel(smtp_server, tmp_path)
    message = OutgoingMessage(id=1, dedupe_key="otp:abc", channel="email", borrower_id=1, loan_id=None,
                              template="one_time_code", language="en", recipient=EMAIL, subject="Your code",
                              body="Your verification code is 4821.", created_at=NOW)
    first = channel.send(message)
    assert channel.send(message) == first
    assert smtp_channel(smtp_server, tmp_path).send(message) == first  # a new process reads the same journal
    assert len(smtp_server.messages) == 1
    assert "4821" not in repr(message) and EMAIL not in repr(message)


def test_a_refused_recipient_is_dead_at_once(db, smtp_server, tmp_path):  # noqa: F811
    smtp_server.refuse.add(EMAIL)
    borrower = make_borrower(db)
    queue(db, borrower, "email", "k:refused")
    report = run_worker(db.factory, {"email": smtp_channel(smtp_server, tmp_path)}, cipher=CIPHER, now=NOW)
    m = row(db, "k:refused")
    assert (report.dead, m.status, m.last_error, m.attempts) == (1, "dead", "email.recipient_refused", 1)
    assert EMAIL not in (m.last_error or "") and smtp_server.messages == []


def test_server_down_is_retried_with_backoff(db, tmp_path):
    borrower = make_borrower(db)
    queue(db, borrower, "email", "k:down")
    down = SmtpEmailChannel(SmtpSettings(host="127.0.0.1", port=free_port(), tls="none", timeout_s=5), tmp_path)
    policy = RetryPolicy(max_attempts=3, base_delay_s=60)
    run_worker(db.factory, {"email": down}, cipher=CIPHER, now=NOW, policy=policy)
    m = row(db, "k:down")
    assert (m.status, m.attempts, m.next_attempt_at) == ("failed", 1, NOW + timedelta(seconds=60))
    assert m.last_error == "email.ConnectionRefusedError"


def test_credentials_never_go_unencrypted_to_another_host(tmp_path):
    with pytest.raises(ValueError, match="never sent unencrypted"):
        SmtpEmailChannel(SmtpSettings(host="smtp.example.cn", tls="none", username="u", password="p"), tmp_path)
    settings = SmtpSettings.from_env({"ARREARS_SMTP_HOST": "smtp.example.cn", "ARREARS_SMTP_TLS": "ssl",
                                      "ARREARS_SMTP_PASSWORD": "p"})
    assert (settings.port, settings.tls) == (465, "ssl") and "password" not in repr(settings)
    assert SmtpSettings.from_env({}) is None
    with pytest.raises(ChannelError):
        SmtpEmailChannel(SmtpSettings(host="127.0.0.1"), tmp_path).send(
            OutgoingMessage(1, "k", "email", 1, None, "t", "zh-CN", None, "s", "b", NOW))
