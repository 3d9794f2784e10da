"""Exactly once across a worker crash: the channel accepted the message, the worker died before recording it;
the next run (after the lease) re-checks through the channel's idempotent send and delivers nothing new.
Also: concurrent workers never claim one message twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from contact_helpers import NOW, gateway, make_borrower, queue, row, smtp_server  # noqa: F401
from sqlalchemy import func, select

from arrears.contact import worker
from arrears.contact.channels import (
    Channel,
    InAppChannel,
    OutgoingMessage,
    PdfLetterChannel,
    SmtpEmailChannel,
    SmtpSettings,
    WebhookSmsChannel,
)
from arrears.contact.tables import InAppMessage
from arrears.contact.worker import run_worker
from support import CIPHER

KEY = "overdue:L1:2026-03-10"


class Crash(BaseException):
    """The process dying: nothing catches it."""


class Recording(Channel):
    def __init__(self, inner: Channel) -> None:
        self.inner, self.name, self.ids = inner, inner.name, []

    def send(self, message: OutgoingMessage) -> str:
        self.ids.append(self.inner.send(message))
        return self.ids[-1]


def _setup(name, db, tmp_path, smtp, gw):
    """The channel and a function counting real deliveries."""
    if name == "email":
        settings = SmtpSettings(host=smtp.host, port=smtp.port, tls="none", sender="n@bank.example.cn")
        return SmtpEmailChannel(settings, tmp_path / "receipts"), lambda: len(smtp.messages)
    if name == "sms":
        return WebhookSmsChannel(gw.url, client=httpx.Client(trust_env=False)), lambda: len(gw.deliveries)
    if name == "letter":
        channel = PdfLetterChannel(tmp_path / "letters")
        renders = []
        real = channel.renderer.render
        channel.renderer.render = lambda **kw: renders.append(1) or real(**kw)
        return channel, lambda: len(renders)

    def rows() -> int:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(InAppMessage))
    return InAppChannel(db.factory, CIPHER), rows


@pytest.mark.parametrize("name", ["email", "sms", "letter", "app"])
def test_crash_between_send_and_mark_delivers_once(db, tmp_path, smtp_server, gateway, monkeypatch, name):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, name, KEY)
    inner, deliveries = _setup(name, db, tmp_path, smtp_server, gateway)
    channel = Recording(inner)

    def crash(*args, **kwargs) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(worker, "_mark_sent", crash)
        with pytest.raises(Crash):
            run_worker(db.factory, {name: channel}, cipher=CIPHER, now=NOW)
    m = row(db, KEY)
    assert (m.status, m.attempts, deliveries()) == ("sending", 1, 1) and m.claim_token
    assert m.lease_until == NOW + timedelta(seconds=worker.RetryPolicy().lease_s)

    # Within the lease nobody touches it (the first worker may still be alive) ...
    assert run_worker(db.factory, {name: channel}, cipher=CIPHER, now=NOW + timedelta(minutes=4)).claimed == 0
    # ... after it, the message is claimed again and the channel answers from its record of the key.
    report = run_worker(db.factory, {name: channel}, cipher=CIPHER, now=NOW + timedelta(minutes=6))
    m = row(db, KEY)
    assert (report.claimed, report.sent) == (1, 1)
    assert (m.status, m.attempts, deliveries()) == ("sent", 2, 1)
    assert channel.ids[0] == channel.ids[1] == m.provider_message_id


SCRIPT = r"""
import os, signal, sys
from datetime import datetime
from arrears.contact.channels import SmtpEmailChannel, SmtpSettings
from arrears.contact.worker import run_worker
from arrears.db.engine import make_engine, make_session_factory
from arrears.privacy import PersonalDataCipher

url, host, port, receipts, now = sys.argv[1:]
channel = SmtpEmailChannel(SmtpSettings(host=host, port=int(port), tls="none", sender="n@bank.example.cn"), receipts)
send = channel.send

def send_then_die(message):
    send(message)
    os.kill(os.getpid(), signal.SIGKILL)  # the server has the mail; the outbox does not know yet

channel.send = send_then_die
run_worker(make_session_factory(make_engine(url)), {"email": channel}, cipher=PersonalDataCipher(bytes(32)),
           now=datetime.fromisoformat(now))
"""


def test_worker_process_killed_after_smtp_accepted(db, tmp_path, smtp_server):  # noqa: F811
    borrower = make_borrower(db)
    queue(db, borrower, "email", KEY)
    receipts = tmp_path / "receipts"
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-c", SCRIPT, db.url, smtp_server.host, str(smtp_server.port),
                           str(receipts), NOW.isoformat()], capture_output=True, timeout=120, check=False,
                          env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert len(smtp_server.messages) == 1 and row(db, KEY).status == "sending"

    settings = SmtpSettings(host=smtp_server.host, port=smtp_server.port, tls="none", sender="n@bank.example.cn")
    report = run_worker(db.factory, {"email": SmtpEmailChannel(settings, receipts)}, cipher=CIPHER,
                        now=NOW + timedelta(minutes=10))
    m = row(db, KEY)
    assert (report.sent, m.status, m.attempts, len(smtp_server.messages)) == (1, "sent", 2, 1)
    assert m.provider_message_id == smtp_server.messages[0].original_content.split(b"Message-ID: ")[1].split(
        b"\r\n")[0].decode()


class Counting(Channel):
    """No idempotency at all: any message claimed twice would show up here twice."""

    name = "sms"

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            self.keys.append(message.dedupe_key)
        return f"c-{message.id}"


def test_concurrent_workers_claim_each_message_once(db):
    borrower = make_borrower(db)
    keys = [f"k:{i}" for i in range(24)]
    for key in keys:
        queue(db, borrower, "sms", key)
    channel = Counting()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while run_worker(db.factory, {"sms": channel}, cipher=CIPHER, batch=4, now=NOW).claimed:
                pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(channel.keys) == sorted(keys)
    assert {row(db, k).status for k in keys} == {"sent"}


def test_a_claim_lapsed_at_the_last_attempt_is_dead_not_retried_forever(db, monkeypatch):
    borrower = make_borrower(db)
    queue(db, borrower, "sms", KEY)
    policy = worker.RetryPolicy(max_attempts=1)
    channel = Counting()
    monkeypatch.setattr(worker, "_mark_sent", lambda *a, **k: (_ for _ in ()).throw(Crash()))
    with pytest.raises(Crash):
        run_worker(db.factory, {"sms": channel}, cipher=CIPHER, now=NOW, policy=policy)
    report = run_worker(db.factory, {"sms": channel}, cipher=CIPHER, now=NOW + timedelta(hours=1), policy=policy)
    m = row(db, KEY)
    assert (report.claimed, report.dead, m.status, m.last_error, channel.keys) == (0, 1, "dead", "lease_expired", [KEY])
