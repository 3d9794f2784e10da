"""Collection cases: one per overdue episode of a loan; at most one open per loan (partial unique index)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow

OPEN = text("status = 'open'")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # SQLite and PostgreSQL both support partial indexes: the database enforces one open case per loan.
        Index("uq_cases_open_loan", "loan_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_cases_status_stage", "status", "stage"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("(status = 'open') = (close_reason IS NULL AND closed_on IS NULL)", name="closed_fields"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    close_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    team: Mapped[str | None] = mapped_column(String(40), nullable=True)
    next_action: Mapped[str] = mapped_column(String(200), default="")
    next_action_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}
