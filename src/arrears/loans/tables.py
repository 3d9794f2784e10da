"""Tables of the loan book. Every large table carries borrower_id so it can be distributed by borrower."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, DecimalText, FenColumn, UTCDateTime, utcnow

ONE_BY_ONE = text("one_by_one IS NOT FALSE")  # the allocations end of day must read one by one (or not known)


class Borrower(Base):
    __tablename__ = "borrowers"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    borrower_no: Mapped[str] = mapped_column(String(40), unique=True)
    # Personal data, AES-GCM encrypted (arrears.privacy); the digest allows exact lookups.
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_digest: Mapped[str] = mapped_column(String(64), index=True)
    phone_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_digest: Mapped[str] = mapped_column(String(64), index=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    region_code: Mapped[str] = mapped_column(String(12), default="")
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    language: Mapped[str] = mapped_column(String(10), default="zh-CN")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Loan(Base):
    __tablename__ = "loans"
    # with the id: a product's loan ids read off the index alone (the dashboards' product filter, reports/figures)
    __table_args__ = (Index("ix_loans_product_code", "product_code", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_no: Mapped[str] = mapped_column(String(40), unique=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    product_code: Mapped[str] = mapped_column(String(40))
    repayment_method: Mapped[str] = mapped_column(String(20))
    principal_fen: Mapped[int] = mapped_column(FenColumn)
    annual_rate: Mapped[Decimal] = mapped_column(DecimalText)
    term: Mapped[int] = mapped_column(Integer)
    disbursed_on: Mapped[date] = mapped_column(Date)
    first_due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    credit_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))  # overpayment held for the borrower
    restructured: Mapped[bool] = mapped_column(default=False)
    restructured_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Instalment(Base):
    """One period of a loan's schedule: what falls due and what has been paid or waived, by component."""

    __tablename__ = "instalments"
    # Fillfactor 70 (PostgreSQL): end of day rewrites the penalty of every overdue instalment each day, and a
    # loan's overdue instalments share a page; with 30 % of each page free, 97 % of those updates stay on their
    # page as HOT updates (no new index entries): 1M loans, 1.38M changed penalties 20.6 → 10.0 s, the next
    # day's 0.76M 14.4 → 6.8 s (docs/performance.md). At 85 only ≈ 19 % were HOT.
    __table_args__ = (UniqueConstraint("loan_id", "seq"), {"postgresql_with": {"fillfactor": 70}})

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    principal_due_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    interest_due_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    penalty_due_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    fee_due_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    cost_due_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    principal_paid_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    interest_paid_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    penalty_paid_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    fee_paid_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    cost_paid_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    principal_waived_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    interest_waived_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    penalty_waived_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    fee_waived_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))
    cost_waived_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    request_digest: Mapped[str] = mapped_column(String(64))  # same key, different body -> 409
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    received_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(30), default="bank_transfer")
    external_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    to_credit_fen: Mapped[int] = mapped_column(FenColumn, default=0, server_default=text("0"))  # the part kept as credit balance
    status: Mapped[str] = mapped_column(String(12), default="posted")  # posted | reversed
    reversal_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PaymentAllocation(Base):
    """What settled which instalment component, when: payments, applied credit, later waivers.
    The end-of-day engine reads these (with their value dates) to compute penalties and days overdue."""

    __tablename__ = "payment_allocations"
    # End of day on PostgreSQL reads only the allocations it must see one by one (this index) and those dated
    # after its business date (a run of a past date), instead of every allocation (io._pg_inputs).
    __table_args__ = (Index("ix_payment_allocations_one_by_one", "loan_id", postgresql_where=ONE_BY_ONE,
                            sqlite_where=ONE_BY_ONE),
                      Index("ix_payment_allocations_value_date", "value_date"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(String(12), default="payment", server_default="payment")  # payment|credit
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), nullable=True, index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"), nullable=True)
    loan_id: Mapped[int] = mapped_column(BigInteger, index=True)
    instalment_id: Mapped[int] = mapped_column(ForeignKey("instalments.id"))
    component: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    value_date: Mapped[date] = mapped_column(Date)
    # Whether the end-of-day engine must see this allocation by itself (docs/eod.md, Inputs): dated after its
    # instalment's due date, before the loan's disbursement, or of a component the engine does not know —
    # facts fixed when it is written, so every writer sets it (loans.one_by_one). NULL (not set) counts as
    # true: a reader takes the row and applies the rule itself.
    one_by_one: Mapped[bool | None] = mapped_column(nullable=True)
