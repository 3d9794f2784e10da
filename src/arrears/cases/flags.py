"""The borrower's contact flags, read from the database: the one place the guard's ``BorrowerFlags`` come from
(manual contacts, visits, the outbox at queue time and the worker before sending).

- ``do_not_contact``: ``borrower_flags.do_not_contact`` (set by staff with ``set_do_not_contact``).
- ``open_complaint``: any complaint of the borrower with status ``open`` or ``in_progress``.
- ``collection_stopped``: ``borrower_flags.collection_stopped`` (set by ``set_collection_stopped``, e.g. when a
  personalised-instalment agreement is signed) OR any source registered with ``register_collection_stop``: a
  function ``(session, borrower_ids) -> set of stopped borrower ids`` that another capability (agreements) adds
  at import time, so it can derive the stop from its own tables without this module knowing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.cases.tables import BorrowerFlag
from arrears.complaints.tables import Complaint
from arrears.compliance.guard import FREEZE_FLAGS
from arrears.compliance.model import BorrowerFlags, Purpose
from arrears.compliance.policy import Profile
from arrears.db.base import utcnow
from arrears.errors import InvalidInput, NotFound
from arrears.loans.tables import Borrower

OPEN_COMPLAINT = ("open", "in_progress")
StopSource = Callable[[Session, list[int]], set[int]]
_STOP_SOURCES: list[StopSource] = []


def register_collection_stop(source: StopSource) -> StopSource:
    """Adds a source of 'collection stopped' (usable as a decorator); registering twice is harmless."""
    if source not in _STOP_SOURCES:
        _STOP_SOURCES.append(source)
    return source


def flags_for(session: Session, borrower_ids: Iterable[int]) -> dict[int, BorrowerFlags]:
    """Flags of many borrowers with one query per source (batch paths: the worker's claim)."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    rows = {r.borrower_id: r for r in session.scalars(select(BorrowerFlag).where(BorrowerFlag.borrower_id.in_(ids)))}
    complaints = set(session.scalars(select(Complaint.borrower_id).where(
        Complaint.borrower_id.in_(ids), Complaint.status.in_(OPEN_COMPLAINT)).distinct()))
    stopped = {b for b, r in rows.items() if r.collection_stopped}
    for source in _STOP_SOURCES:
        stopped |= source(session, ids)
    return {b: BorrowerFlags(borrower_id=b, do_not_contact=bool(rows.get(b) and rows[b].do_not_contact),
                             open_complaint=b in complaints, signed_agreement_with_collection_stop=b in stopped)
            for b in ids}


def borrower_flags(session: Session, borrower_id: int) -> BorrowerFlags:
    return flags_for(session, [borrower_id])[borrower_id]


def frozen_rule(flags: BorrowerFlags, purpose: Purpose | str, profile: Profile) -> str | None:
    """The first freeze (guard order) that forbids a contact for ``purpose``, or None. The same test as
    ``guard.check`` applies, for callers that have no time or history to check (the outbox)."""
    for rule, flag in FREEZE_FLAGS:
        if getattr(flags, flag) and purpose not in profile.forbidden.freezes[rule].allowed_purposes:
            return rule
    return None


def _row(session: Session, borrower_id: int) -> BorrowerFlag:
    if session.get(Borrower, borrower_id) is None:
        raise NotFound(f"no borrower {borrower_id}", field="borrower_id", rule="borrower.exists")
    row = session.get(BorrowerFlag, borrower_id)
    if row is None:
        row = BorrowerFlag(borrower_id=borrower_id, do_not_contact=False, collection_stopped=False)
        session.add(row)
    return row


def _set(session: Session, borrower_id: int, flag: str, on: bool, reason: str, actor: str) -> BorrowerFlag:
    if not reason.strip():
        raise InvalidInput("say why", field="reason", rule="flags.reason_required")
    row = _row(session, borrower_id)
    before = {flag: bool(getattr(row, flag))}
    setattr(row, flag, on)
    setattr(row, f"{flag}_reason", reason[:200] if on else None)
    row.updated_at = utcnow()
    session.flush()
    append_event(session, actor=actor, action=f"borrower.{flag}", subject_type="borrower", subject_id=borrower_id,
                 borrower_id=borrower_id, before=before, after={flag: on}, reason=reason)
    return row


def set_do_not_contact(session: Session, *, borrower_id: int, on: bool, reason: str, actor: str) -> BorrowerFlag:
    return _set(session, borrower_id, "do_not_contact", on, reason, actor)


def set_collection_stopped(session: Session, *, borrower_id: int, on: bool, reason: str,
                           actor: str) -> BorrowerFlag:
    """The agreement capability's hook: a signed agreement that stops collection sets it, a breach clears it."""
    return _set(session, borrower_id, "collection_stopped", on, reason, actor)


@register_collection_stop
def _agreements_in_force(session: Session, borrower_ids: list[int]) -> set[int]:
    """Borrowers with a countersigned agreement whose product stops collection (credit-card personalised
    instalment; agreements.service.COLLECTION_STOPPED); a breach, completion or renegotiation lifts it.
    Imported here, lazily (agreements imports cases), so every guard check sees it whatever was imported."""
    from arrears.agreements.service import COLLECTION_STOPPED
    from arrears.agreements.tables import Agreement

    return set(session.scalars(select(Agreement.borrower_id).where(
        COLLECTION_STOPPED, Agreement.borrower_id.in_(borrower_ids)).distinct()))
