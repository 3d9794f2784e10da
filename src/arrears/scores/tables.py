"""Stored scores: one row per loan, score kind and assessment date, naming the model version that made it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, UTCDateTime, utcnow


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("loan_id", "kind", "as_of"),
        Index("ix_scores_kind_as_of", "kind", "as_of"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(BigInteger)  # the unique key (loan_id, kind, as_of) serves look-ups
    kind: Mapped[str] = mapped_column(String(20))  # early_warning | propensity | completion
    as_of: Mapped[date] = mapped_column(Date)
    probability: Mapped[Decimal] = mapped_column(Numeric(7, 6))  # a probability, not money; 6 places
    reasons: Mapped[str] = mapped_column(String(200), default="")  # feature codes, costliest first, comma-separated
    model_version: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
