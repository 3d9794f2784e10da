"""Bad-debt exits: write-off batches (核销, maker-checker), debt-transfer packages (债权转让) and one
``loan_exits`` row per loan that left the book, which credit reporting and later recoveries read."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime, utcnow


class WriteOffBatch(Base):
    __tablename__ = "writeoff_batches"
    __table_args__ = (CheckConstraint("status IN ('proposed', 'approved', 'rejected')", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="proposed")
    rules: Mapped[dict] = mapped_column(JSON)  # the selection rules as applied
    proposed_by: Mapped[str] = mapped_column(String(60))
    proposed_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    loans: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class TransferPackage(Base):
    __tablename__ = "transfer_packages"
    __table_args__ = (CheckConstraint("status IN ('draft', 'sold')", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    rules: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(60))
    created_on: Mapped[date] = mapped_column(Date)
    loans: Mapped[int] = mapped_column(Integer)
    balance_fen: Mapped[int] = mapped_column(FenColumn)
    expected_recovery_fen: Mapped[int] = mapped_column(FenColumn)
    buyer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    price_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    sold_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    sold_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ExitItem(Base):
    """One loan in a write-off batch or a transfer package, with its outstanding receivables when selected."""

    __tablename__ = "exit_items"
    __table_args__ = (UniqueConstraint("batch_kind", "batch_id", "loan_id"),
                      CheckConstraint("batch_kind IN ('writeoff', 'transfer')", name="batch_kind"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_kind: Mapped[str] = mapped_column(String(10))
    batch_id: Mapped[int] = mapped_column(BigInteger, index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    dpd: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(20))
    principal_fen: Mapped[int] = mapped_column(FenColumn)
    interest_fen: Mapped[int] = mapped_column(FenColumn)
    penalty_fen: Mapped[int] = mapped_column(FenColumn)
    fee_fen: Mapped[int] = mapped_column(FenColumn)
    cost_fen: Mapped[int] = mapped_column(FenColumn)
    balance_fen: Mapped[int] = mapped_column(FenColumn)
    expected_recovery_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    price_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)  # transfer: the loan's share of the price


class LoanExit(Base):
    """A loan that left the book. Written-off loans keep a reported balance that recoveries reduce."""

    __tablename__ = "loan_exits"
    __table_args__ = (CheckConstraint("kind IN ('written_off', 'transferred')", name="kind"),)

    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True, autoincrement=False)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12))
    batch_id: Mapped[int] = mapped_column(BigInteger)
    exit_on: Mapped[date] = mapped_column(Date)
    classification: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(FenColumn)  # receivables removed from the book
    recovered_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    last_recovery_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Recovery(Base):
    """Money received on a written-off loan: posted to recovery income and reported."""

    __tablename__ = "writeoff_recoveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    received_on: Mapped[date] = mapped_column(Date)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
