"""Appending events and verifying their hash chains.

Each subject (a loan, a case, an agreement, a user …) has its own chain: an event's hash covers its
content and the previous event's hash for that subject. Per-subject chains keep writers to different
subjects independent (no global lock) and let a table distributed by borrower stay consistent.
Two writers racing on one subject collide on (subject_type, subject_id, seq) and one gets a 409.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.audit.tables import Event
from arrears.db.base import utcnow

GENESIS = "0" * 64


def _canonical(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, *, occurred_at: datetime, actor: str, action: str, subject_type: str,
               subject_id: str, seq: int, borrower_id: int | None, before: dict | None,
               after: dict | None, reason: str) -> str:
    body = _canonical({
        "prev": prev_hash, "at": occurred_at.isoformat(), "actor": actor, "action": action,
        "subject": [subject_type, subject_id, seq], "borrower": borrower_id,
        "before": before, "after": after, "reason": reason,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append_event(session: Session, *, actor: str, action: str, subject_type: str, subject_id: object,
                 borrower_id: int | None = None, before: dict | None = None, after: dict | None = None,
                 reason: str = "", occurred_at: datetime | None = None) -> Event:
    """Adds an event to the subject's chain inside the caller's transaction (it does not commit)."""
    sid = str(subject_id)
    last = session.execute(
        select(Event.seq, Event.hash)
        .where(Event.subject_type == subject_type, Event.subject_id == sid)
        .order_by(Event.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = occurred_at or utcnow()
    # Round-trip through JSON so the hash covers exactly what the database will give back.
    before = json.loads(_canonical(before)) if before is not None else None
    after = json.loads(_canonical(after)) if after is not None else None
    event = Event(
        occurred_at=at, actor=actor, action=action, subject_type=subject_type, subject_id=sid, seq=seq,
        borrower_id=borrower_id, before=before, after=after, reason=reason, prev_hash=prev,
        hash=event_hash(prev, occurred_at=at, actor=actor, action=action, subject_type=subject_type,
                        subject_id=sid, seq=seq, borrower_id=borrower_id, before=before, after=after,
                        reason=reason),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    subject: str
    problem: str


def verify_events(session: Session, batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Recomputes every chain; returns the number of events checked and every broken link."""
    problems: list[ChainProblem] = []
    checked = 0
    prev_subject: tuple[str, str] | None = None
    prev_hash = GENESIS
    expected_seq = 1
    stmt = select(Event).order_by(Event.subject_type, Event.subject_id, Event.seq).execution_options(
        yield_per=batch)
    for event in session.scalars(stmt):
        subject = (event.subject_type, event.subject_id)
        if subject != prev_subject:
            prev_subject, prev_hash, expected_seq = subject, GENESIS, 1
        name = f"{event.subject_type}:{event.subject_id}"
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.id, name, f"sequence {event.seq}, expected {expected_seq}"))
        if event.prev_hash != prev_hash:
            problems.append(ChainProblem(event.id, name, "previous-hash link broken"))
        recomputed = event_hash(event.prev_hash, occurred_at=event.occurred_at, actor=event.actor,
                                action=event.action, subject_type=event.subject_type,
                                subject_id=event.subject_id, seq=event.seq, borrower_id=event.borrower_id,
                                before=event.before, after=event.after, reason=event.reason)
        if recomputed != event.hash:
            problems.append(ChainProblem(event.id, name, "content does not match its hash (altered)"))
        prev_hash, expected_seq = event.hash, event.seq + 1
        checked += 1
    return checked, problems


def count_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0
