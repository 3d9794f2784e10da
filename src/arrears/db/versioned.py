"""Optimistic locking for the rows a user edits (visits, complaints): load at the version the user saw, flush
and turn a concurrent change into a 409. Rules are named ``<noun>.exists`` and ``<noun>.version``."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.errors import Conflict, NotFound

T = TypeVar("T")


def load_versioned(session: Session, model: type[T], row_id: int, expected_version: int, noun: str) -> T:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {noun} {row_id}", field=f"{noun}_id", rule=f"{noun}.exists")
    version = row.version  # type: ignore[attr-defined]
    if version != expected_version:
        raise Conflict(f"{noun} {row_id} is at version {version}, not {expected_version}; reload and try again",
                       field="expected_version", rule=f"{noun}.version")
    return row


def flush_versioned(session: Session, noun: str) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"the {noun} was changed by someone else; reload and try again", field="expected_version",
                       rule=f"{noun}.version") from None
