"""The content-addressed document store for agreement PDFs and certificates, kept in a table rather than in
``files.store`` on purpose: a document is written in the same transaction as the agreement that names it (a
rollback leaves no orphan, a signed agreement never lacks its document) and database backups carry it."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from arrears.agreements.tables import StoredDocument
from arrears.errors import NotFound


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def put(session: Session, content: bytes, media_type: str = "application/pdf") -> str:
    """Stores ``content`` once under its SHA-256 and returns the key (storing the same bytes again is a no-op)."""
    key = sha256(content)
    if session.get(StoredDocument, key) is None:
        session.add(StoredDocument(sha256=key, media_type=media_type, size=len(content), content=content))
        session.flush()
    return key


def get(session: Session, key: str) -> bytes:
    doc = session.get(StoredDocument, key)
    if doc is None:
        raise NotFound(f"no stored document {key}", field="sha256", rule="document.exists")
    return doc.content
