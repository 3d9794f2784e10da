"""Complaints from borrowers (portal/API) or staff. While one is open, collection contact with the borrower is
frozen (the guard's ``open_complaint`` rule)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow

OPEN = text("status IN ('open', 'in_progress')")


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_open_borrower", "borrower_id", sqlite_where=OPEN, postgresql_where=OPEN),
        # The complaint desk lists by reply date, all or of one status (web/legal_desk/complaints.py).
        Index("ix_complaints_sla_due", "sla_due_on", "id"),
        Index("ix_complaints_status_sla_due", "status", "sla_due_on", "id"),
        CheckConstraint("status IN ('open', 'in_progress', 'resolved', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(20))  # portal, api, phone, letter, regulator …
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="open")
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)  # the borrower's words may hold personal data
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sla_due_on: Mapped[date] = mapped_column(Date)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    resolution_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    filed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}
