"""What a strategy run records: each open case's arm and rule per business date (the experiment's raw data),
the messages it decided to send (staged until rendered into the outbox), and the reminders before the due date
decided for current loans (``pre_due_reminders``, allowed or refused)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
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


class PreDueReminder(Base):
    """A reminder before the due date a pre-delinquency rule decided for a current loan's instalment
    (strategy/predue.py): ``refused`` by the guard (``refused_rule``; tried again on a later date of the window),
    or allowed and ``staged`` until rendered into the outbox (``queued``, ``outbox_id``; ``failed`` with
    ``error``). One allowed reminder per loan, due date and action (``dedupe_key``, also the outbox key)."""

    __tablename__ = "pre_due_reminders"
    __table_args__ = (CheckConstraint("status IN ('staged', 'queued', 'failed', 'refused')", name="status"),
                      UniqueConstraint("loan_id", "due_on", "business_date", "action_no",
                                       name="uq_pre_due_reminders_loan_due_date"),
                      Index("ix_pre_due_reminders_status", "status", "business_date"),
                      Index("ix_pre_due_reminders_experiment", "experiment", "strategy"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    business_date: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    instalment_no: Mapped[int] = mapped_column(Integer)
    amount_due_fen: Mapped[int] = mapped_column(BigInteger)
    early_warning: Mapped[int] = mapped_column(Integer)  # the score that decided, per mille
    experiment: Mapped[str] = mapped_column(String(40))
    strategy: Mapped[str] = mapped_column(String(30))
    role: Mapped[str] = mapped_column(String(12))  # champion | challenger
    rule: Mapped[str] = mapped_column(String(40))
    action_no: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10))
    template: Mapped[str] = mapped_column(String(40))
    variables: Mapped[str] = mapped_column(String(400))  # JSON: template variable -> pre-due fact
    profile: Mapped[str] = mapped_column(String(20))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10))
    refused_rule: Mapped[str | None] = mapped_column(String(60), nullable=True)  # the guard's rule
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)  # allowed ones only
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # our rule code, never personal data
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
