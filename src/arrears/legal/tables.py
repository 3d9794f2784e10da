"""Litigation cases and what happens in them: hearings, the judgment, enforcement actions, costs, deadlines
(with the reminder tasks they raise) and an out-of-court settlement. At most one open legal case per collection
case (partial unique index); the legal case carries a version for optimistic locking."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime, utcnow

OPEN = text("status = 'open'")
ID = BigInteger().with_variant(Integer, "sqlite")


class LegalCase(Base):
    __tablename__ = "legal_cases"
    __table_args__ = (
        Index("uq_legal_cases_open_case", "case_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_legal_cases_status_id", "status", "id"),  # the legal officer's list (web/legal_desk)
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("(status = 'open') = (closed_on IS NULL AND outcome IS NULL)", name="closed_fields"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    officer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # 法务专员
    status: Mapped[str] = mapped_column(String(10), default="open")
    # preparing → filed → judged → enforcing; outcome when closed: settled, recovered, withdrawn, terminated
    phase: Mapped[str] = mapped_column(String(20), default="preparing")
    opened_on: Mapped[date] = mapped_column(Date)
    court: Mapped[str | None] = mapped_column(String(120), nullable=True)
    court_case_no: Mapped[str | None] = mapped_column(String(80), nullable=True)  # (2026)京0105民初1234号
    firm: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lawyer: Mapped[str | None] = mapped_column(String(60), nullable=True)
    filed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    claim_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    judgment_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    judgment_served_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    judgment_no: Mapped[str | None] = mapped_column(String(80), nullable=True)
    awarded_principal_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    awarded_interest_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    awarded_penalty_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    awarded_fee_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    awarded_costs_fen: Mapped[int | None] = mapped_column(FenColumn, nullable=True)
    interest_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    performance_due_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recovered_fen: Mapped[int] = mapped_column(FenColumn, default=0)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Hearing(Base):
    __tablename__ = "legal_hearings"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(30))  # mediation, hearing, judgment_pronounced …
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EnforcementAction(Base):
    __tablename__ = "legal_enforcement_actions"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # policy.yaml enforcement_actions
    taken_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(120), default="")  # the court's ruling or notice number
    amount_fen: Mapped[int] = mapped_column(FenColumn, default=0)  # frozen / seized / realised, when known
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalCost(Base):
    __tablename__ = "legal_costs"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # policy.yaml cost_kinds
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    incurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recovery(Base):
    """Money recovered through the legal case; each is posted as a payment (``payment_id``)."""

    __tablename__ = "legal_recoveries"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    source: Mapped[str] = mapped_column(String(30))  # voluntary, enforcement, auction, settlement …
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    received_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Settlement(Base):
    """An out-of-court settlement (庭外和解): the plan terms agreed, kept for the agreements capability."""

    __tablename__ = "legal_settlements"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), unique=True)
    settled_on: Mapped[date] = mapped_column(Date)
    total_fen: Mapped[int] = mapped_column(FenColumn)
    terms: Mapped[dict] = mapped_column(JSON)  # {"instalments": [{"due_on", "amount_fen"}…], "waived_fen", …}
    agreement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # set by the agreements hook
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deadline(Base):
    __tablename__ = "legal_deadlines"
    __table_args__ = (
        Index("ix_legal_deadlines_open_due", "status", "due_on"),
        CheckConstraint("status IN ('open', 'done', 'lapsed')", name="status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # policy.yaml deadlines
    due_on: Mapped[date] = mapped_column(Date)
    remind_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    source: Mapped[str] = mapped_column(String(300))


class LegalTask(Base):
    """A reminder to the legal officer (one per deadline): raised set-based by ``legal_deadlines_due``."""

    __tablename__ = "legal_tasks"
    # an officer's open tasks by due date, read off in order (web/legal_desk: /legal)
    __table_args__ = (Index("ix_legal_tasks_assignee_due", "assignee_user_id", "status", "due_on", "id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("legal_deadlines.id"), unique=True)
    legal_case_id: Mapped[int] = mapped_column(ForeignKey("legal_cases.id"), index=True)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    due_on: Mapped[date] = mapped_column(Date)
    raised_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
