"""Optimistic locking for the rows a user edits: load at the version the user saw (404 if the row is missing,
409 if it has moved on), and turn a concurrent change found at flush into a 409. Rules are named
``<rule>.exists`` and ``<rule>.version`` (``rule`` defaults to the noun) unless a capability's names are given."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from arrears.errors import Conflict, NotFound

T = TypeVar("T")


def load_versioned(session: Session, model: type[T], row_id: int, expected_version: int, noun: str, *,
                   field: str | None = None, exists_rule: str | None = None,
                   version_rule: str | None = None) -> T:
    """The ``model`` row ``row_id`` if it is at ``expected_version``. ``noun`` names it in messages; ``field``
    (default ``<noun>_id``) names the id in a 404."""
    key = noun.replace(" ", "_").replace("-", "_")
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {noun} {row_id}", field=field or f"{key}_id", rule=exists_rule or f"{key}.exists")
    version = row.version  # type: ignore[attr-defined]
    if version != expected_version:
        raise Conflict(f"{noun} {row_id} is at version {version}, not {expected_version}; reload and try again",
                       field="expected_version", rule=version_rule or f"{key}.version")
    return row


def flush_versioned(session: Session, noun: str, *, rule: str | None = None) -> None:
    """Flushes; a row changed by someone else since it was loaded is a 409."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"the {noun} was changed by someone else; reload and try again", field="expected_version",
                       rule=rule or f"{noun.replace(' ', '_')}.version") from None
