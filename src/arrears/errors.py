"""Errors a person can act on. Services raise these; the web edge turns them into
application/problem+json and the CLI into one clear line and a non-zero exit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass
class Problem(Exception):
    """Base: a title, a detail naming the field or row and the rule broken."""

    detail: str
    field: str | None = None
    rule: str | None = None
    errors: list[dict] = dataclasses.field(default_factory=list)  # several field errors at once (imports, forms)

    status = 400
    title = "Bad request"

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.detail}"


class InvalidInput(Problem):
    status = 422
    title = "Invalid input"


class NotFound(Problem):
    status = 404
    title = "Not found"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class Unauthorized(Problem):
    status = 401
    title = "Not signed in"


class Conflict(Problem):
    """A concurrent or repeated write that does not match: the caller must reload and retry."""

    status = 409
    title = "Conflict"
