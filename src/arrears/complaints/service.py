"""Complaint use cases: file (borrower for themselves, or staff for a borrower), take on, resolve or reject,
and statistics. Categories, channels and SLA days are policy (``cases/policy.yaml`` complaints). While a
complaint is ``open`` or ``in_progress`` collection contact with the borrower is frozen (``cases.flags``).
The complaint's words and the resolution are encrypted; events carry neither."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.tables import User
from arrears.cases.policy import policy
from arrears.cases.tables import Case
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.complaints.tables import Complaint
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.loans.tables import Borrower, Loan
from arrears.privacy import PersonalDataCipher
from arrears.settings import BUSINESS_TZ

SUBJECT = "complaint"
OPEN = ("open", "in_progress")
FINAL = ("resolved", "rejected")
MAX_TEXT = 4000


def _text(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise InvalidInput("must not be empty", field=field, rule="complaint.text_required")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"at most {MAX_TEXT} characters", field=field, rule="complaint.text_length")
    return value.strip()


def file_complaint(session: Session, *, cipher: PersonalDataCipher, borrower_id: int, category: str, channel: str,
                   text: str, filed_at: datetime, actor: str, filed_by_user_id: int | None = None,
                   case_id: int | None = None, loan_id: int | None = None) -> Complaint:
    rules = policy().complaints
    cat = rules.category(category)
    if cat is None:
        raise InvalidInput(f"unknown category; use one of {[c.code for c in rules.categories]}", field="category",
                           rule="complaint.category")
    if channel not in rules.channels:
        raise InvalidInput(f"unknown channel; use one of {list(rules.channels)}", field="channel",
                           rule="complaint.channel")
    if filed_at.utcoffset() is None:
        raise InvalidInput("must be a timezone-aware datetime", field="filed_at")
    if session.get(Borrower, borrower_id) is None:
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id", rule="borrower.exists")
    for field, model, value in (("case_id", Case, case_id), ("loan_id", Loan, loan_id)):
        row = None if value is None else session.get(model, value)
        if value is not None and (row is None or row.borrower_id != borrower_id):
            raise InvalidInput(f"{field} {value} is not the complaining borrower's", field=field,
                               rule="complaint.of_borrower")
    body = _text(text, "text")
    received = filed_at.astimezone(ZoneInfo(BUSINESS_TZ)).date()
    complaint = Complaint(borrower_id=borrower_id, case_id=case_id, loan_id=loan_id, channel=channel,
                          category=category, status="open", text_enc=cipher.encrypt(body), filed_at=filed_at,
                          sla_due_on=received + timedelta(days=cat.sla_days), filed_by_user_id=filed_by_user_id)
    session.add(complaint)
    session.flush()
    append_event(session, actor=actor, action="complaint.filed", subject_type=SUBJECT, subject_id=complaint.id,
                 borrower_id=borrower_id, occurred_at=filed_at,
                 after={"category": category, "channel": channel, "case_id": case_id, "loan_id": loan_id,
                        "sla_due_on": complaint.sla_due_on, "status": "open"})
    return complaint


def get_complaint(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}", field="complaint_id", rule="complaint.exists")
    return complaint


def _current(session: Session, complaint_id: int, expected_version: int) -> Complaint:
    complaint = load_versioned(session, Complaint, complaint_id, expected_version, "complaint")
    if complaint.status not in OPEN:
        raise Conflict(f"complaint {complaint_id} is {complaint.status}", field="complaint_id",
                       rule="complaint.open")
    return complaint


def take_on(session: Session, *, complaint_id: int, assignee_user_id: int, expected_version: int,
            actor: str) -> Complaint:
    """Assigns the complaint (open → in_progress; reassigning keeps in_progress)."""
    complaint = _current(session, complaint_id, expected_version)
    if session.get(User, assignee_user_id) is None:
        raise NotFound(f"no user {assignee_user_id}", field="assignee_user_id", rule="user.exists")
    before = {"status": complaint.status, "assignee_user_id": complaint.assignee_user_id}
    complaint.status, complaint.assignee_user_id = "in_progress", assignee_user_id
    flush_versioned(session, "complaint")
    append_event(session, actor=actor, action="complaint.assigned", subject_type=SUBJECT, subject_id=complaint.id,
                 borrower_id=complaint.borrower_id, before=before,
                 after={"status": "in_progress", "assignee_user_id": assignee_user_id})
    return complaint


def close_complaint(session: Session, *, cipher: PersonalDataCipher, complaint_id: int, status: str,
                    resolution: str, expected_version: int, actor: str, at: datetime) -> Complaint:
    """Resolves or rejects with a resolution text (encrypted); contact is no longer frozen by it."""
    if status not in FINAL:
        raise InvalidInput(f"status must be one of {list(FINAL)}", field="status", rule="complaint.final_status")
    complaint = _current(session, complaint_id, expected_version)
    text = _text(resolution, "resolution")
    before = {"status": complaint.status}
    complaint.status, complaint.resolution_enc, complaint.resolved_at = status, cipher.encrypt(text), at
    flush_versioned(session, "complaint")
    append_event(session, actor=actor, action=f"complaint.{status}", subject_type=SUBJECT, subject_id=complaint.id,
                 borrower_id=complaint.borrower_id, before=before, occurred_at=at,
                 after={"status": status, "within_sla": at.astimezone(ZoneInfo(BUSINESS_TZ)).date()
                        <= complaint.sla_due_on})
    return complaint


def _median(values: list[int]) -> Decimal | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return Decimal(values[mid]) if len(values) % 2 else Decimal(values[mid - 1] + values[mid]) / 2


def complaint_stats(session: Session, today: date) -> dict:
    """Counts by category and status, open complaints past their SLA date, the median days to resolve
    (filed → resolved/rejected, business-time-zone calendar days)."""
    by = session.execute(select(Complaint.category, Complaint.status, func.count())
                         .group_by(Complaint.category, Complaint.status)).all()
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for category, status, n in by:
        by_category[category] = by_category.get(category, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    overdue = session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.status.in_(OPEN), Complaint.sla_due_on < today)) or 0
    tz = ZoneInfo(BUSINESS_TZ)
    days = [(done.astimezone(tz).date() - filed.astimezone(tz).date()).days for filed, done in session.execute(
        select(Complaint.filed_at, Complaint.resolved_at).where(Complaint.status.in_(FINAL))).all()]
    return {"by_category": by_category, "by_status": by_status, "open_past_sla": overdue,
            "median_days_to_resolve": _median(days)}
