"""The outbox (messages decided, waiting to be sent by the worker) and the borrower portal's inbox.

Personal data is encrypted (arrears.privacy): the recipient, and subject and body, which carry the borrower's
name, amounts and one-time codes. ``last_error`` holds only our own error codes, never provider text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow

CHANNELS = ("email", "sms", "letter", "app")
# pending: waiting for its first attempt · sending: claimed by a worker (claim_token, lease_until) ·
# sent · failed: an attempt failed, another is due at next_attempt_at · dead: no more attempts.
STATUSES = ("pending", "sending", "sent", "failed", "dead")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), nullable=True)
    case_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(30))  # compliance.model.Purpose
    recipient_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # none for in-app
    subject_enc: Mapped[bytes] = mapped_column(LargeBinary)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Quiet hours at send time: the borrower's zone and the profile whose windows apply (None: not held).
    borrower_tz: Mapped[str] = mapped_column(String(40))
    quiet_profile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far; also the claim guard
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # e.g. one-time codes
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)  # also the channel's idempotency key
    request_digest: Mapped[str] = mapped_column(String(64))  # same key, different message -> 409
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class InAppMessage(Base):
    """A message in the borrower portal's inbox, written by the in-app channel (once per dedupe key)."""

    __tablename__ = "inapp_messages"
    __table_args__ = (Index("ix_inapp_messages_borrower_time", "borrower_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), nullable=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    template: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    subject_enc: Mapped[bytes] = mapped_column(LargeBinary)
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
