"""Collection cases (one per overdue episode of a loan; at most one open per loan, by a partial unique index),
their contact log, promises to pay, field visits, the borrower's registered third parties and contact flags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime, utcnow

OPEN = text("status = 'open'")
REFUSED = column("allowed").is_(False)  # as the queries say it: ``allowed IS false`` (PostgreSQL), ``IS 0`` (SQLite)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # SQLite and PostgreSQL both support partial indexes: the database enforces one open case per loan.
        Index("uq_cases_open_loan", "loan_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        Index("ix_cases_status_stage", "status", "stage"),
        Index("ix_cases_team_status", "team", "status"),
        # a team's queue: its open cases' loans, read off this index alone (web/workbench queue_query.team_walk)
        Index("ix_cases_open_team_loan", "team", "loan_id", sqlite_where=OPEN, postgresql_where=OPEN),
        # the dashboards' team filter (reports/figures): a row's case, or any case of its loan, in the team, looked
        # up off an index alone
        Index("ix_cases_team_id", "team", "id"),
        Index("ix_cases_loan_id", "loan_id", "team"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("(status = 'open') = (close_reason IS NULL AND closed_on IS NULL)", name="closed_fields"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
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


class ContactLog(Base):
    """The contact log: every attempt on a case, manual or automatic, and its outcome (compliance.model.Outcome).
    The guard's decision is recorded with it; a refused request is logged with ``allowed = false``."""

    __tablename__ = "contact_log"
    __table_args__ = (
        Index("ix_contact_log_borrower_at", "borrower_id", "at"),
        # refused attempts are few: the dashboards' blocked contacts of a period (reports/figures)
        Index("ix_contact_log_refused_at", "at", sqlite_where=REFUSED, postgresql_where=REFUSED),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(10))  # compliance.model.Method
    party: Mapped[str] = mapped_column(String(20))  # compliance.model.Party
    third_party_id: Mapped[int | None] = mapped_column(ForeignKey("third_parties.id"), nullable=True)
    purpose: Mapped[str] = mapped_column(String(30))  # compliance.model.Purpose
    allowed: Mapped[bool] = mapped_column(Boolean)
    refused_rule: Mapped[str | None] = mapped_column(String(60), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # None while refused or pending
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # free text may hold personal data
    recording_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromiseToPay(Base):
    """A promise to pay ``amount_fen`` by ``due_on``; end of day resolves it as kept or broken (after grace)."""

    __tablename__ = "promises_to_pay"
    __table_args__ = (
        Index("ix_promises_status_due", "status", "due_on"),
        Index("uq_promises_open_case", "case_id", unique=True, sqlite_where=OPEN, postgresql_where=OPEN),
        CheckConstraint("status IN ('open', 'kept', 'broken', 'cancelled')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    amount_fen: Mapped[int] = mapped_column(FenColumn)
    promised_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    resolved_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    paid_fen: Mapped[int] = mapped_column(FenColumn, default=0)  # paid between promised_on and resolution
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact_log.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class BorrowerFlag(Base):
    """Per-borrower contact flags set by people or other capabilities (no row: no flag). ``do_not_contact`` is set
    by staff on the borrower's request; ``collection_stopped`` is the hook a signed agreement (e.g. a credit-card
    personalised instalment) sets and clears. Read only through ``arrears.cases.flags``."""

    __tablename__ = "borrower_flags"

    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), primary_key=True, autoincrement=False)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_contact_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    collection_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    collection_stopped_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThirdParty(Base):
    """A person registered for a borrower (relative, employer, guarantor contact …): the only third parties a
    collector may contact, under the compliance profile's conditions. Identified by keyed digests."""

    __tablename__ = "third_parties"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    phone_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    address_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FieldVisit(Base):
    """A field visit (上门): planned with its collectors, passed through the guard (``contact_id`` is the
    allowed contact-log row), then reported with outcome, evidence files and community-committee involvement."""

    __tablename__ = "field_visits"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'reported', 'cancelled')", name="status"),
        Index("ix_field_visits_status_planned", "status", "planned_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"))
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address_type: Mapped[str] = mapped_column(String(20))  # home, work, registered (户籍), other
    collector_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    second_collector_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact_log.id"), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # compliance.model.Outcome
    report_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    evidence: Mapped[list | None] = mapped_column(JSON, nullable=True)  # [{"sha256", "type", "bytes"}] (files/)
    recording_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    committee_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    committee_name: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 社区居委会 / 村委会
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}
