"""Hardship applications with their evidence, negotiations and their offers.

Personal figures (the financial statement, free text, file names) are stored encrypted. An offer's terms
(``plan``) are written once and never updated: a change of terms is a new offer. Status changes go through
the version column (a stale write is a 409) and each one appends a hash-chained audit event.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from arrears.db.base import Base, FenColumn, UTCDateTime, utcnow

HARDSHIP_KINDS = ("illness", "job_loss", "business_failure", "disaster", "other")
OFFER_STATUSES = ("pending_approval", "open", "accepted", "rejected", "withdrawn", "superseded", "declined")
_OPEN = text("status = 'open'")


class HardshipApplication(Base):
    __tablename__ = "hardship_applications"
    __table_args__ = (
        CheckConstraint("status IN ('submitted', 'verified', 'rejected')", name="status"),
        CheckConstraint("hardship_kind IN ('illness', 'job_loss', 'business_failure', 'disaster', 'other')",
                        name="kind"),
        Index("ix_hardship_applications_status_id", "status", "id"),  # the desk's list: waiting, newest first
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    hardship_kind: Mapped[str] = mapped_column(String(20))
    hardship_since: Mapped[date] = mapped_column(Date)
    dependants: Mapped[int] = mapped_column(Integer, default=0)
    region_code: Mapped[str] = mapped_column(String(12), default="")
    statement_enc: Mapped[bytes] = mapped_column(LargeBinary)  # incomes, expenses, assets, debts, description
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_version: Mapped[str] = mapped_column(String(20))
    filed_by: Mapped[str] = mapped_column(String(60))
    filed_by_borrower: Mapped[bool] = mapped_column()
    reviewed_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class HardshipEvidence(Base):
    __tablename__ = "hardship_evidence"
    __table_args__ = (UniqueConstraint("application_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("hardship_applications.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # the file in the content-addressed store
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Negotiation(Base):
    __tablename__ = "negotiations"
    __table_args__ = (
        Index("uq_negotiations_open_loan", "loan_id", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
        CheckConstraint("status IN ('open', 'agreed', 'closed')", name="status"),
        Index("ix_negotiations_status_id", "status", "id"),  # the desk's list by status, newest first
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("hardship_applications.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    rounds: Mapped[int] = mapped_column(Integer, default=0)  # offers made so far; each bumps the version
    accepted_offer_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    opened_by: Mapped[str] = mapped_column(String(60))
    opened_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Offer(Base):
    __tablename__ = "negotiation_offers"
    __table_args__ = (
        UniqueConstraint("negotiation_id", "seq"),
        CheckConstraint("status IN ('pending_approval', 'open', 'accepted', 'rejected', 'withdrawn', "
                        "'superseded', 'declined')", name="status"),
        CheckConstraint("party IN ('institution', 'borrower')", name="party"),
        Index("ix_negotiation_offers_status_id", "status", "id"),  # /approvals: offers pending approval
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    negotiation_id: Mapped[int] = mapped_column(ForeignKey("negotiations.id"), index=True)
    loan_id: Mapped[int] = mapped_column(BigInteger)
    borrower_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(12))
    made_by: Mapped[str] = mapped_column(String(60))
    made_by_role: Mapped[str] = mapped_column(String(20))
    counter_to_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    terms: Mapped[dict] = mapped_column(JSON)
    plan: Mapped[dict] = mapped_column(JSON)  # serial.plan_to_dict; never updated
    plan_digest: Mapped[str] = mapped_column(String(64))
    total_to_pay_fen: Mapped[int] = mapped_column(FenColumn)
    waived_fen: Mapped[int] = mapped_column(FenColumn)
    required_authority: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


# An offer's terms are written once: the database refuses to change them or delete an offer, so no code path
# (or careless hand) edits the history of a negotiation. Status columns stay writable (under the version).
_FROZEN = ("negotiation_id", "seq", "party", "made_by", "terms", "plan", "plan_digest", "expires_at")


def offer_guard_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"""CREATE TRIGGER negotiation_offers_frozen BEFORE UPDATE OF {', '.join(_FROZEN)}
                    ON negotiation_offers BEGIN SELECT RAISE(ABORT, 'offer terms are immutable'); END""",
                """CREATE TRIGGER negotiation_offers_no_delete BEFORE DELETE ON negotiation_offers
                   BEGIN SELECT RAISE(ABORT, 'offers are never deleted'); END"""]
    changed = " OR ".join(f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text" for c in _FROZEN)
    return [f"""CREATE OR REPLACE FUNCTION arrears_offer_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF TG_OP = 'DELETE' THEN RAISE EXCEPTION 'offers are never deleted'; END IF;
                  IF {changed} THEN RAISE EXCEPTION 'offer terms are immutable'; END IF;
                  RETURN NEW;
                END $$""",
            """CREATE TRIGGER negotiation_offers_frozen BEFORE UPDATE OR DELETE ON negotiation_offers
               FOR EACH ROW EXECUTE FUNCTION arrears_offer_frozen()"""]


def offer_guard_drop(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return ["DROP TRIGGER IF EXISTS negotiation_offers_frozen", "DROP TRIGGER IF EXISTS negotiation_offers_no_delete"]
    return ["DROP TRIGGER IF EXISTS negotiation_offers_frozen ON negotiation_offers",
            "DROP FUNCTION IF EXISTS arrears_offer_frozen()"]


for _dialect in ("sqlite", "postgresql"):
    for _statement in offer_guard_ddl(_dialect):
        event.listen(Offer.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))
