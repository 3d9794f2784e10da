"""Credit-reporting records: special-transaction events others insert, notices before the first negative
record, objections (异议) with their corrections, and the month-end runs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, \
    UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime, utcnow


class CreditSpecialEvent(Base):
    """A special transaction to report in the month of ``occurred_on`` (docs/credit-reporting.md: the input
    table other capabilities insert into — agreements for extension / debt reduction / personalised instalment,
    legal for legal recovery; write-off and transfer insert their own). ``kind`` is a key of
    ``policy.yaml`` special_transactions.codes."""

    __tablename__ = "credit_special_events"
    __table_args__ = (UniqueConstraint("loan_id", "kind", "occurred_on"),
                      Index("ix_credit_special_events_on", "occurred_on"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    occurred_on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    months_changed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    detail: Mapped[str] = mapped_column(String(200), default="", server_default="")
    source: Mapped[str] = mapped_column(String(30))  # which capability inserted it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditNegativeNotice(Base):
    """The notice a borrower got before their first negative record (征信业管理条例 Art. 15)."""

    __tablename__ = "credit_negative_notices"

    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), primary_key=True, autoincrement=False)
    loan_id: Mapped[int] = mapped_column(BigInteger)
    outbox_id: Mapped[int] = mapped_column(BigInteger)
    queued_on: Mapped[date] = mapped_column(Date)
    first_reported_month: Mapped[date | None] = mapped_column(Date, nullable=True)


class CreditObjection(Base):
    """An objection (异议) to what was reported about an account; answered within policy objection.answer_days."""

    __tablename__ = "credit_objections"
    __table_args__ = (CheckConstraint("status IN ('open', 'upheld', 'rejected')", name="status"),
                      Index("ix_credit_objections_status_due", "status", "due_on"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    claim_enc: Mapped[bytes] = mapped_column(LargeBinary)  # the borrower's words may hold personal data
    status: Mapped[str] = mapped_column(String(10), default="open")
    answer_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    answered_late: Mapped[bool | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class CreditCorrection(Base):
    """A month's status code corrected after an upheld objection; re-reported in the next file."""

    __tablename__ = "credit_corrections"
    __table_args__ = (UniqueConstraint("loan_id", "month"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("credit_objections.id"))
    loan_id: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[date] = mapped_column(Date)  # first day of the corrected month
    code: Mapped[str] = mapped_column(String(1))
    reported_month: Mapped[date | None] = mapped_column(Date, nullable=True)  # the file that carried it


class CreditReportRun(Base):
    """One month-end file (a re-run of the month replaces the row and the file)."""

    __tablename__ = "credit_report_runs"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    accounts: Mapped[int] = mapped_column(Integer)
    specials: Mapped[int] = mapped_column(Integer)
    withheld: Mapped[int] = mapped_column(Integer)
    notices_queued: Mapped[int] = mapped_column(Integer)
    run_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
