"""What the end-of-day run keeps in the database: the current state of every loan, the change records
(transitions) other capabilities consume, and the runs themselves. Daily snapshots (the full history)
are Parquet files partitioned by date, see ``snapshots.py``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime


class LoanDelinquency(Base):
    """Each loan's state as of the last completed run (one row per loan)."""

    __tablename__ = "loan_delinquency"
    # A team's work queue walks days past due (web/workbench/queue_query.team_walk) reading only these indexes:
    # the loan id in them tests the team, the product filters, without reading the row.
    # Fillfactor 50 (PostgreSQL): each run rewrites only the rows whose state changed and moves the others to the
    # new business_date, an unindexed column: with room on the page those updates are HOT (no index entries).
    __table_args__ = (Index("ix_loan_delinquency_bucket", "bucket", "dpd", "loan_id", "product_code"),
                      Index("ix_loan_delinquency_dpd", "dpd", "loan_id", "product_code"),
                      {"postgresql_with": {"fillfactor": 50}})

    loan_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    borrower_id: Mapped[int] = mapped_column(BigInteger, index=True)
    business_date: Mapped[date] = mapped_column(Date)
    product_code: Mapped[str] = mapped_column(String(40))
    dpd: Mapped[int] = mapped_column(Integer)
    overdue_principal_fen: Mapped[int] = mapped_column(FenColumn)
    overdue_interest_fen: Mapped[int] = mapped_column(FenColumn)
    overdue_fee_fen: Mapped[int] = mapped_column(FenColumn)
    overdue_penalty_fen: Mapped[int] = mapped_column(FenColumn)
    penalty_due_fen: Mapped[int] = mapped_column(FenColumn)
    outstanding_principal_fen: Mapped[int] = mapped_column(FenColumn)
    total_outstanding_fen: Mapped[int] = mapped_column(FenColumn)
    bucket: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(20))
    m_bucket: Mapped[str] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(20))
    in_observation: Mapped[bool] = mapped_column()
    fully_paid: Mapped[bool] = mapped_column()


class Transition(Base):
    """A change found by a run: became overdue, cured, bucket up/down, class changed, fully paid."""

    __tablename__ = "delinquency_transitions"
    __table_args__ = (Index("ix_delinquency_transitions_date_kind", "business_date", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    from_value: Mapped[str] = mapped_column(String(40))
    to_value: Mapped[str] = mapped_column(String(40))


class EodRun(Base):
    """One business date's run. Only ``complete`` runs count; a killed run leaves no trace but this row."""

    __tablename__ = "eod_runs"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # complete
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loans: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict] = mapped_column(JSON)
