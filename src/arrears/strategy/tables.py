"""What a strategy run records: each open case's arm and rule per business date (the experiment's raw data),
and the messages it decided to send (staged until rendered into the outbox)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow


class StrategyDecision(Base):
    """One per open case and business date: unique, so a date runs once per case (idempotent)."""

    __tablename__ = "strategy_decisions"
    __table_args__ = (Index("ix_strategy_decisions_experiment", "experiment", "strategy"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, autoincrement=False)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    experiment: Mapped[str] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(30))
    role: Mapped[str] = mapped_column(String(12))  # champion | challenger
    rule: Mapped[str | None] = mapped_column(String(40), nullable=True)  # None: no rule matched
    total_outstanding_fen: Mapped[int] = mapped_column(BigInteger)  # at decision time, for the report


class StrategySend(Base):
    """A message a rule decided to send that the guard allowed: ``staged`` until rendered and queued in the
    outbox (``queued``, with ``outbox_id``). Refused ones are in ``contact_log`` instead."""

    __tablename__ = "strategy_sends"
    __table_args__ = (CheckConstraint("status IN ('staged', 'queued', 'failed')", name="status"),
                      Index("ix_strategy_sends_status", "status", "business_date"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    loan_id: Mapped[int] = mapped_column(BigInteger)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    business_date: Mapped[date] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(String(40))
    action_no: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(40))
    variables: Mapped[str] = mapped_column(String(400))  # JSON: template variable -> case fact
    profile: Mapped[str] = mapped_column(String(20))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="staged")
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # our rule code, never personal data
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
