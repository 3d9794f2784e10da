"""Agreements, their one-time signing codes and the content-addressed document store."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text, text)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow

STATUSES = ("draft", "sent_for_signature", "borrower_signed", "countersigned", "completed", "breached",
            "terminated", "renegotiated")
LIVE = ("draft", "sent_for_signature", "borrower_signed", "countersigned")  # at most one per loan
_LIVE_SQL = "status IN ('draft', 'sent_for_signature', 'borrower_signed', 'countersigned')"


class Agreement(Base):
    __tablename__ = "agreements"
    __table_args__ = (
        Index("uq_agreements_live_loan", "loan_id", unique=True,
              sqlite_where=text(_LIVE_SQL), postgresql_where=text(_LIVE_SQL)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger, index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    plan_kind: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date)
    # The terms: canonical JSON of the Plan; its SHA-256 also sits in the 'agreement.created' event.
    terms_json: Mapped[str] = mapped_column(Text)
    terms_sha256: Mapped[str] = mapped_column(String(64))
    document_sha256: Mapped[str] = mapped_column(String(64))
    prepared_by: Mapped[str] = mapped_column(String(60))
    signing_method: Mapped[str] = mapped_column(String(10), default="portal")  # portal | oral
    call_recording_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    borrower_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    countersigned_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    countersigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    executed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The loan instalments that carry the agreement's schedule (set on execution).
    seq_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seq_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waiver_conditional: Mapped[bool] = mapped_column(Boolean, default=True)
    waiver_entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Read by the compliance guard (collection_stopped): true while a product that requires it is in force.
    stops_collection: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    renegotiation_no: Mapped[int] = mapped_column(Integer, default=0)  # earlier agreements of this loan
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_reason: Mapped[str] = mapped_column(String(200), default="")
    escalation: Mapped[str] = mapped_column(String(20), default="")  # '' | renegotiate | legal | legal_pending
    certificate_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class SigningCode(Base):
    """A one-time code sent to the borrower; only its keyed digest is stored."""

    __tablename__ = "agreement_signing_codes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredDocument(Base):
    """Content-addressed bytes: the key is the SHA-256 of the content, so a changed byte is detectable."""

    __tablename__ = "agreement_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
