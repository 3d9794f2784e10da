"""Delivery channels. ``Channel.send(message) -> provider_id`` must be idempotent by ``message.dedupe_key``: the
worker calls it again for a message whose earlier attempt's outcome it does not know (a crash between send
and mark), and a second call for a delivered key must return the first delivery's id without delivering again.

- e-mail over SMTP: SMTP has no idempotency, so the channel keeps a receipt journal (one file per key, written
  with fsync right after the server's 250) and a Message-ID derived from the key (mail clients fold copies);
- SMS: an HTTP webhook (the key as ``Idempotency-Key``; the gateway replays its first answer) or, for the demo,
  a JSON-lines file in the data directory that is itself checked for the key;
- letters: a PDF per key (``letters.py``), recorded in a receipt journal;
- in-app: an ``InAppMessage`` row, unique by key.
Errors are ``ChannelError`` with our own code (never provider text, which may repeat an address).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Literal

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from arrears.contact.receipts import ReceiptJournal, key_hash, write_atomic
from arrears.contact.tables import InAppMessage
from arrears.contact.templates import catalog
from arrears.db.engine import unit_of_work
from arrears.privacy import PersonalDataCipher, mask_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class OutgoingMessage:
    """One message as a channel sees it: decrypted, detached from the database."""

    id: int
    dedupe_key: str
    channel: str
    borrower_id: int
    loan_id: int | None
    template: str
    language: str
    recipient: str | None
    subject: str
    body: str
    created_at: datetime

    def __repr__(self) -> str:  # no personal data in logs or tracebacks
        return f"OutgoingMessage(id={self.id}, channel={self.channel!r}, dedupe_key={self.dedupe_key!r})"


class ChannelError(Exception):
    """A failed attempt. ``code`` is ours and free of personal data; ``retryable`` False means the provider
    refused this message for good (the worker marks it dead at once)."""

    def __init__(self, code: str, *, retryable: bool) -> None:
        super().__init__(code)
        self.code = code
        self.retryable = retryable


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, message: OutgoingMessage) -> str:
        """Delivers (or, for a key already delivered, only looks up) the message; returns the provider's id."""


def _record(journal: ReceiptJournal, message: OutgoingMessage, provider_id: str) -> None:
    """After a delivery: a receipt that cannot be written must not turn the delivery into a failure (which
    would be retried); the worker's mark is then the only record, as for any channel."""
    try:
        journal.put(message.dedupe_key, provider_id)
    except OSError as exc:
        log.error("outbox %s: delivered but the receipt was not written (%s)", message.id, type(exc).__name__)


# ---- e-mail ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "noreply@example.cn"
    sender_name: str | None = None
    timeout_s: int = 30

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SmtpSettings | None:
        """ARREARS_SMTP_HOST (unset: no e-mail channel), _PORT, _TLS (starttls|ssl|none), _USER, _PASSWORD,
        _FROM, _FROM_NAME, _TIMEOUT (seconds)."""
        host = env.get("ARREARS_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("ARREARS_SMTP_TLS", "starttls")
        if tls not in ("starttls", "ssl", "none"):
            raise ValueError(f"ARREARS_SMTP_TLS={tls!r}: use starttls, ssl or none")
        return cls(host=host, port=int(env.get("ARREARS_SMTP_PORT", "465" if tls == "ssl" else "587")), tls=tls,
                   username=env.get("ARREARS_SMTP_USER") or None, password=env.get("ARREARS_SMTP_PASSWORD") or None,
                   sender=env.get("ARREARS_SMTP_FROM", cls.sender), sender_name=env.get("ARREARS_SMTP_FROM_NAME"),
                   timeout_s=int(env.get("ARREARS_SMTP_TIMEOUT", "30")))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpEmailChannel(Channel):
    name = "email"

    def __init__(self, settings: SmtpSettings, receipts_dir: str | Path, ssl_context: ssl.SSLContext | None = None):
        if settings.username and settings.tls == "none" and not _loopback(settings.host):
            raise ValueError("SMTP credentials are never sent unencrypted to another host; use starttls or ssl")
        self.settings = settings
        self.journal = ReceiptJournal(receipts_dir)
        self.context = ssl_context or ssl.create_default_context()

    def message_id(self, key: str) -> str:
        return f"<{key_hash(key)[:40]}@{self.settings.sender.rpartition('@')[2] or 'arrears.local'}>"

    def build(self, message: OutgoingMessage) -> EmailMessage:
        mail = EmailMessage()  # policy.default: RFC 2047 headers, UTF-8 body, CRLF on the wire
        mail["Subject"] = message.subject
        name = self.settings.sender_name or catalog().institution.name.get(message.language)
        mail["From"] = formataddr((name, self.settings.sender))  # a Chinese name is RFC 2047-encoded
        mail["To"] = message.recipient or ""
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = self.message_id(message.dedupe_key)
        mail["Content-Language"] = message.language
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient:
            raise ChannelError("email.no_recipient", retryable=False)
        with self.journal.lock(message.dedupe_key):
            done = self.journal.get(message.dedupe_key)
            if done is not None:
                return done
            mail = self.build(message)
            self._deliver(mail)
            provider_id = mail["Message-ID"]
            _record(self.journal, message, provider_id)  # at once: the window left is this local write
            return provider_id

    def _deliver(self, mail: EmailMessage) -> None:
        s = self.settings
        try:
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self.context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.tls == "starttls":
                    smtp.starttls(context=self.context)
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise ChannelError("email.recipient_refused", retryable=False) from None
        except smtplib.SMTPAuthenticationError:
            raise ChannelError("email.auth_failed", retryable=True) from None  # the operator fixes settings
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(f"email.smtp_{exc.smtp_code}", retryable=not 500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"email.{type(exc).__name__}", retryable=True) from None


# ---- SMS ------------------------------------------------------------------------------------------------------

class WebhookSmsChannel(Channel):
    """POSTs ``{"to", "text", "reference", "language"}`` as JSON with ``Idempotency-Key: <dedupe key>``; the
    gateway answers 2xx with ``{"id": …}`` and, for a key it has seen, replays that answer without sending."""

    name = "sms"

    def __init__(self, url: str, *, token: str | None = None, timeout_s: int = 10,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.Client(timeout=timeout_s)

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient:
            raise ChannelError("sms.no_recipient", retryable=False)
        payload = {"to": message.recipient, "text": message.body, "reference": message.dedupe_key,
                   "language": message.language}
        try:
            response = self.client.post(self.url, json=payload,
                                        headers={**self.headers, "Idempotency-Key": message.dedupe_key})
        except httpx.TimeoutException:
            raise ChannelError("sms.timeout", retryable=True) from None
        except httpx.HTTPError as exc:
            raise ChannelError(f"sms.{type(exc).__name__}", retryable=True) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                provider_id = response.json().get("id")
            except (ValueError, AttributeError):
                provider_id = None
            return str(provider_id) if provider_id else f"key:{message.dedupe_key}"
        # 409: the key is in flight at the gateway; 408/429/5xx: try again later; other 4xx: refused for good
        raise ChannelError(f"sms.http_{status}", retryable=status in (408, 409, 429) or status >= 500)


class FileSmsChannel(Channel):
    """The demo gateway: one JSON line per SMS in ``path`` (number masked), the file itself the record of which
    keys went out. The keys are read once, then only what other processes appended since (under flock)."""

    name = "sms"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seen: dict[str, str] = {}
        self._offset = 0

    def _refresh(self, f) -> None:
        f.seek(self._offset)
        for line in f:
            if not line.endswith(b"\n"):
                break  # a line cut short by a crash: not a delivery
            self._offset += len(line)
            with contextlib.suppress(ValueError, KeyError):
                record = json.loads(line)
                self._seen[record["dedupe_key"]] = record["id"]

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient:
            raise ChannelError("sms.no_recipient", retryable=False)
        with open(self.path, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                self._refresh(f)
                if message.dedupe_key in self._seen:
                    return self._seen[message.dedupe_key]
                size = f.seek(0, os.SEEK_END)
                if size:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        f.write(b"\n")  # close a cut line so the next record stands alone
                provider_id = f"file:{key_hash(message.dedupe_key)[:16]}"
                record = {"id": provider_id, "dedupe_key": message.dedupe_key, "to": mask_phone(message.recipient),
                          "text": message.body, "at": message.created_at.isoformat()}
                f.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
                f.flush()
                os.fsync(f.fileno())
                self._refresh(f)
                return provider_id
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# ---- letters and in-app ---------------------------------------------------------------------------------------

class PdfLetterChannel(Channel):
    """Renders the letter to ``<out_dir>/letter-<key hash>.pdf`` for the print-and-post house; the receipt
    journal remembers it even after the file has been collected."""

    name = "letter"

    def __init__(self, out_dir: str | Path, *, sender: str | None = None, font_dir: str | Path | None = None,
                 font: str | None = None) -> None:
        from arrears.contact.letters import LetterRenderer

        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.journal = ReceiptJournal(self.out_dir / ".receipts")
        self.sender = sender
        self.renderer = LetterRenderer(font_dir=font_dir, font=font)

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient:
            raise ChannelError("letter.no_address", retryable=False)
        with self.journal.lock(message.dedupe_key):
            done = self.journal.get(message.dedupe_key)
            if done is not None:
                return done
            sender = self.sender or catalog().institution.name.get(message.language)
            pdf = self.renderer.render(sender=sender, recipient=message.recipient, subject=message.subject,
                                       body=message.body, language=message.language, written_at=message.created_at)
            name = f"letter-{key_hash(message.dedupe_key)[:32]}.pdf"
            write_atomic(self.out_dir / name, pdf)
            _record(self.journal, message, name)
            return name


class InAppChannel(Channel):
    """Writes the message to the borrower's portal inbox in a transaction of its own, once per key."""

    name = "app"

    def __init__(self, session_factory: sessionmaker[Session], cipher: PersonalDataCipher) -> None:
        self.factory = session_factory
        self.cipher = cipher

    def _existing(self, key: str) -> str | None:
        with unit_of_work(self.factory) as s:
            found = s.scalar(select(InAppMessage.id).where(InAppMessage.dedupe_key == key))
            return None if found is None else f"inapp:{found}"

    def send(self, message: OutgoingMessage) -> str:
        done = self._existing(message.dedupe_key)
        if done is not None:
            return done
        try:
            with unit_of_work(self.factory) as s:
                row = InAppMessage(borrower_id=message.borrower_id, loan_id=message.loan_id, outbox_id=message.id,
                                   dedupe_key=message.dedupe_key, template=message.template,
                                   language=message.language, subject_enc=self.cipher.encrypt(message.subject),
                                   body_enc=self.cipher.encrypt(message.body), created_at=message.created_at)
                s.add(row)
                s.flush()
                return f"inapp:{row.id}"
        except IntegrityError:  # another worker wrote it first
            done = self._existing(message.dedupe_key)
            if done is None:
                raise
            return done


def channels_from_env(data_dir: str | Path, session_factory: sessionmaker[Session], cipher: PersonalDataCipher,
                      env: Mapping[str, str] = os.environ) -> dict[str, Channel]:
    """The channels configured for this deployment: in-app always, letters where a CJK font is; SMS by webhook when
    ARREARS_SMS_WEBHOOK_URL is set (ARREARS_SMS_WEBHOOK_TOKEN: bearer token), else the demo file
    ``<data>/outbox/sms.jsonl``; e-mail when ARREARS_SMTP_HOST is set (see ``SmtpSettings.from_env``)."""
    data = Path(data_dir)
    channels: dict[str, Channel] = {"app": InAppChannel(session_factory, cipher)}
    url = env.get("ARREARS_SMS_WEBHOOK_URL", "").strip()
    channels["sms"] = WebhookSmsChannel(url, token=env.get("ARREARS_SMS_WEBHOOK_TOKEN") or None) if url \
        else FileSmsChannel(data / "outbox" / "sms.jsonl")
    smtp = SmtpSettings.from_env(env)
    if smtp is not None:
        channels["email"] = SmtpEmailChannel(smtp, data / "outbox" / "email-receipts")
    from arrears.contact.letters import LetterError

    try:
        channels["letter"] = PdfLetterChannel(data / "letters", sender=env.get("ARREARS_LETTER_SENDER") or None,
                                              font_dir=env.get("ARREARS_LETTER_FONT_DIR") or None,
                                              font=env.get("ARREARS_LETTER_FONT") or None)
    except LetterError as exc:  # no CJK font here: letters stay queued rather than go out without glyphs
        log.warning("letters are not sent from this machine: %s", exc)
    return channels
