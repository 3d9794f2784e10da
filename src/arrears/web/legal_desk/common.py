"""What the legal officer's and complaint desk's pages share: the gate (signed in, staff, permission), reading
form fields into values or error codes next to their field, and turning a service's refusal into one.

Error codes are rules (``required``, ``amount_format``, or the service's own rule such as ``legal.date_order``);
the templates name them in the reader's language (``legal_desk/_labels.html``)."""

from __future__ import annotations

from datetime import date

from arrears.errors import Conflict, Problem
from arrears.loans.schemas import MAX_AMOUNT_FEN
from arrears.money import MoneyError, yuan_to_fen


class Form:
    """The raw values of one submitted form and the error code of each field that was refused."""

    def __init__(self, name: str, values: dict[str, str]) -> None:
        self.name = name
        self.values = {k: (v or "") for k, v in values.items()}
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        """Nothing was refused."""
        return not self.errors

    def refuse(self, field: str, code: str) -> None:
        self.errors.setdefault(field, code)

    def text(self, field: str, limit: int, *, required: bool = True) -> str:
        value = self.values.get(field, "").strip()
        if required and not value:
            self.refuse(field, "required")
        elif len(value) > limit:
            self.refuse(field, "too_long")
        return value

    def amount(self, field: str, *, positive: bool = True, required: bool = True) -> int:
        """Yuan text ("1,234.56") to fen; refuses a format that is not one, more than two decimals, a negative
        amount (or zero when ``positive``) and one past the largest amount a column takes."""
        raw = self.values.get(field, "").strip()
        if not raw:
            if required:
                self.refuse(field, "required")
            return 0
        try:
            fen = yuan_to_fen(raw)
        except MoneyError:
            self.refuse(field, "amount_format")
            return 0
        if fen < 0 or (positive and fen == 0):
            self.refuse(field, "amount_positive" if positive else "amount_negative")
        elif fen > MAX_AMOUNT_FEN:
            self.refuse(field, "amount_too_large")
        return fen

    def day(self, field: str, *, required: bool = True) -> date | None:
        raw = self.values.get(field, "").strip()
        if not raw:
            if required:
                self.refuse(field, "required")
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.refuse(field, "date_format")
            return None

    def whole(self, field: str, low: int, high: int, *, required: bool = True) -> int | None:
        raw = self.values.get(field, "").strip()
        if not raw:
            if required:
                self.refuse(field, "required")
            return None
        if not raw.isdigit() or not low <= int(raw) <= high:
            self.refuse(field, "whole_number")
            return None
        return int(raw)

    def choice(self, field: str, allowed) -> str:
        value = self.values.get(field, "")
        if value not in allowed:
            self.refuse(field, "required" if not value else "choice")
        return value

    def version(self) -> int:
        raw = self.values.get("version", "")
        return int(raw) if raw.isdigit() else 0

    def refused_by(self, exc: Problem, fields: dict[str, str] | None = None) -> int:
        """Puts a service's refusal next to its field (the service's field name, mapped by ``fields`` or taken
        as it is when the form has it; else on the whole form) and returns the HTTP status to answer with."""
        where = (fields or {}).get(exc.field or "", exc.field or "")
        if exc.field == "expected_version" or (exc.rule or "").endswith(".version"):
            where = "version"
        elif where not in self.values:
            where = "form"
        self.refuse(where, exc.rule or "invalid")
        return 409 if isinstance(exc, Conflict) else 422 if exc.status == 422 else exc.status
