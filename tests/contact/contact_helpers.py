"""Shared by the contact tests: a borrower with a loan, queueing in one transaction, and real local servers
(an SMTP server from aiosmtpd and an idempotent SMS gateway over HTTP), both on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from arrears.contact.outbox import queue_message
from arrears.contact.tables import OutboxMessage
from arrears.db.engine import unit_of_work
from support import CIPHER, add_borrower, add_small_loan

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: outside quiet hours
EMAIL = "zhangsan@example.cn"
PHONE = "13812345678"
ADDRESS = "北京市朝阳区建国路 88 号 1 栋 101 室"
OVERDUE = {"borrower_name": "张三", "loan_no": "L1", "due_on": date(2026, 2, 5), "days_overdue": 33,
           "amount_owed_fen": 61_234, "penalty_fen": 1_234}


def make_borrower(db, language: str = "zh-CN") -> tuple[int, int]:
    with unit_of_work(db.factory) as s:
        b = add_borrower(s, email=EMAIL, address=ADDRESS, phone=PHONE)
        b.language = language
        loan = add_small_loan(s, b)
        return b.id, loan.id


def queue(db, borrower: tuple[int, int], channel: str, key: str, template: str = "overdue_notice",
          variables: dict | None = None, **kw) -> int:
    with unit_of_work(db.factory) as s:
        m = queue_message(s, cipher=CIPHER, borrower_id=borrower[0], loan_id=borrower[1], channel=channel,
                          template=template, variables=variables or OVERDUE, dedupe_key=key, now=kw.pop("now", NOW),
                          **kw)
        return m.id


def row(db, key: str) -> OutboxMessage:
    with db.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- SMTP ------------------------------------------------------------------------------------------------------

@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list = field(default_factory=list)  # aiosmtpd envelopes
    logins: list = field(default_factory=list)
    refuse: set = field(default_factory=set)  # addresses answered 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope)
        return "250 OK queued"


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    sink = SmtpSink(port=free_port())

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"arrears" and auth_data.password == b"s3cret"
        if ok:
            sink.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    controller = Controller(sink, hostname=sink.host, port=sink.port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# ---- SMS gateway -----------------------------------------------------------------------------------------------

@dataclass
class Gateway:
    """An SMS gateway like the real ones: a repeated Idempotency-Key gets the first answer again, no new SMS.
    ``plan`` scripts the next answers: ok, 500, 400, or deliver_then_500 (sends, then fails to say so)."""

    url: str = ""
    plan: list[str] = field(default_factory=list)
    deliveries: list[dict] = field(default_factory=list)
    requests: list[tuple[str, dict]] = field(default_factory=list)  # (idempotency key, body)
    answers: dict[str, dict] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, key: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append((key, body))
            if key in self.answers:
                return 200, self.answers[key]
            action = self.plan.pop(0) if self.plan else "ok"
            if action in ("500", "400"):
                return int(action), {"error": action}
            self.deliveries.append(body)
            self.answers[key] = {"id": f"sms-{len(self.deliveries)}"}
            return (500, {"error": "late"}) if action == "deliver_then_500" else (200, self.answers[key])


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, answer = gw.handle(self.headers.get("Idempotency-Key", ""), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gw.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
