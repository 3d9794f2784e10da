"""The daily aggregates behind the dashboards (docs/dashboards.md). Written set-based after each end of day
(``aggregate.aggregate_day``) and rebuilt from the stored snapshots by ``arrears reports rebuild``: pages read
these few thousand rows a day instead of the million-row snapshots or the event log."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn


class PortfolioDaily(Base):
    """Loans not fully paid on a business date, by product, team, M-bucket and five-class classification."""

    __tablename__ = "portfolio_daily"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    product_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    team: Mapped[str] = mapped_column(String(40), primary_key=True)  # '' when the loan has no open case
    bucket: Mapped[str] = mapped_column(String(20), primary_key=True)  # the M-bucket, common to every product
    classification: Mapped[str] = mapped_column(String(20), primary_key=True)
    loans: Mapped[int] = mapped_column(Integer)
    balance_fen: Mapped[int] = mapped_column(FenColumn)  # total outstanding
    overdue_fen: Mapped[int] = mapped_column(FenColumn)  # overdue principal, interest, fees and penalty


class RollRateDaily(Base):
    """Month-to-date roll: each loan's M-bucket on the anchor date (the last run before the month began) against
    its bucket on the business date ('paid' when fully paid, 'exited' when no longer active)."""

    __tablename__ = "roll_rate_daily"
    __table_args__ = (Index("ix_roll_rate_daily_date", "business_date"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    anchor_date: Mapped[date] = mapped_column(Date)
    product_code: Mapped[str] = mapped_column(String(40))
    team: Mapped[str] = mapped_column(String(40))
    from_bucket: Mapped[str] = mapped_column(String(20))
    to_bucket: Mapped[str] = mapped_column(String(20))
    loans: Mapped[int] = mapped_column(Integer)
    from_balance_fen: Mapped[int] = mapped_column(FenColumn)
    to_balance_fen: Mapped[int] = mapped_column(FenColumn)
    recovered_fen: Mapped[int] = mapped_column(FenColumn)  # payments received in (anchor, business date]
