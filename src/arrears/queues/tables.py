"""Work tasks (call, visit, letter) a strategy creates: one per case and business date, in a team's queue,
assigned to a collector (or waiting while no one has room), highest priority (expected recovery) first. Skills
are copied from the case at creation so assignment is one join."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow


class WorkTask(Base):
    __tablename__ = "work_tasks"
    __table_args__ = (
        UniqueConstraint("case_id", "business_date", name="uq_work_tasks_case_date"),
        CheckConstraint("kind IN ('call', 'visit', 'letter')", name="kind"),
        CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status"),
        # the queues' order (priority DESC, id DESC) read straight off these, scanned backwards (queues/service.py)
        Index("ix_work_tasks_team_queue", "team", "status", "priority", "id"),
        Index("ix_work_tasks_assignee_queue", "assignee_user_id", "status", "priority", "id"),
        Index("ix_work_tasks_team_loan", "team", "status", "loan_id"),  # a team's loans (web/workbench queue)
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    loan_id: Mapped[int] = mapped_column(BigInteger)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    business_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    team: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(10))
    product_code: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="open")
    # expected recovery in fen: latest propensity × amount overdue (queues/priority.py), refreshed set-based
    priority: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    priority_reasons: Mapped[str] = mapped_column(String(200), default="", server_default="")  # score reason codes
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}
