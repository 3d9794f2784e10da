"""The borrower portal's inbox: the in-app messages of one borrower, decrypted for display, and marking one read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.contact.tables import InAppMessage
from arrears.db.base import utcnow
from arrears.errors import NotFound
from arrears.privacy import PersonalDataCipher


@dataclass(frozen=True, repr=False)
class InboxItem:
    id: int
    template: str
    language: str
    subject: str
    body: str
    created_at: datetime
    read_at: datetime | None

    def __repr__(self) -> str:
        return f"InboxItem(id={self.id}, template={self.template!r})"


def inbox(session: Session, borrower_id: int, cipher: PersonalDataCipher, *, limit: int = 50) -> list[InboxItem]:
    """Newest first."""
    rows = session.scalars(select(InAppMessage).where(InAppMessage.borrower_id == borrower_id)
                           .order_by(InAppMessage.created_at.desc(), InAppMessage.id.desc()).limit(limit))
    return [InboxItem(r.id, r.template, r.language, cipher.decrypt(r.subject_enc), cipher.decrypt(r.body_enc),
                      r.created_at, r.read_at) for r in rows]


def mark_read(session: Session, borrower_id: int, message_id: int, *, now: datetime | None = None) -> None:
    """Marks the borrower's own message read (once); another borrower's message is not found."""
    row = session.get(InAppMessage, message_id)
    if row is None or row.borrower_id != borrower_id:
        raise NotFound(f"no message {message_id} in this inbox", field="message_id")
    if row.read_at is None:
        row.read_at = now or utcnow()
        append_event(session, actor=f"borrower:{borrower_id}", action="inapp.read", subject_type="inapp_message",
                     subject_id=row.id, borrower_id=borrower_id, occurred_at=row.read_at)
