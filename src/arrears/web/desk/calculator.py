"""The calculator's form ↔ plan ``Terms``. Values stay as typed (strings) so a form with an error comes back
as the person left it; errors are codes per field that the template names in the page's language.

Fields: ``kind`` (instalments | step_up | settlement), ``periods`` (months), ``rate`` (annual %, e.g. 6.5),
``holiday`` (months before the first payment), ``step`` (share of the level principal paid in the first half,
%), ``waiver_<component>`` (yuan), ``conditional`` (the waiver comes back on breach)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from arrears.money import MoneyError, fen_to_yuan, yuan_to_fen
from arrears.negotiation.limits import Violation
from arrears.negotiation.plan import COMPONENTS, Amounts
from arrears.negotiation.terms import Terms

KINDS = ("instalments", "step_up", "settlement")
HUNDRED = Decimal(100)
_INT = re.compile(r"^\s*\d{1,4}\s*$")
# Where each limit (``limits.term_violations``, field names of ``Terms``) is shown on the form.
FIELD_OF = {"periods": "periods", "annual_rate": "rate", "holiday_months": "holiday", "step_up_share": "step",
            "settlement": "kind", "waiver": "waiver", **{f"waiver.{c}": f"waiver_{c}" for c in COMPONENTS}}


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


def defaults(contract_rate: Decimal, periods: int = 12) -> dict[str, str]:
    return {"kind": "instalments", "periods": str(periods), "rate": _plain(contract_rate * HUNDRED), "holiday": "0",
            "step": "50", "conditional": "1", **{f"waiver_{c}": "0" for c in COMPONENTS}}


def values_of(t: Terms) -> dict[str, str]:
    """The form's values for existing terms (an option or an offer) — "adjust in the calculator"."""
    kind = "settlement" if t.settlement else "step_up" if t.step_up_share is not None else "instalments"
    return {"kind": kind, "periods": str(t.periods), "rate": _plain(t.annual_rate * HUNDRED),
            "holiday": str(t.holiday_months),
            "step": _plain(t.step_up_share * HUNDRED) if t.step_up_share is not None else "50",
            "conditional": "1" if t.waiver_conditional else "",
            **{f"waiver_{c}": str(fen_to_yuan(getattr(t.waiver, c))) for c in COMPONENTS}}


def read(params: Mapping[str, str], base: dict[str, str]) -> dict[str, str]:
    """The form's values: what was sent over ``base``; an unticked box is absent, so a sent form (``calc``)
    without ``conditional`` means no."""
    values = dict(base)
    for name in ("kind", "periods", "rate", "holiday", "step", *(f"waiver_{c}" for c in COMPONENTS)):
        if name in params:
            values[name] = str(params[name]).strip()[:40]
    if "calc" in params:
        values["conditional"] = "1" if params.get("conditional") else ""
    return values


def parse(values: dict[str, str]) -> tuple[Terms | None, dict[str, str]]:
    """Terms from the form, or the fields that are not well formed (code per field). Limits are the
    services' to judge (``term_violations``), not this form's."""
    errors: dict[str, str] = {}
    kind = values.get("kind", "")
    if kind not in KINDS:
        errors["kind"] = "choice"
    settlement = kind == "settlement"
    periods = _whole(values, "periods", errors, required=not settlement)
    holiday = _whole(values, "holiday", errors, required=False)
    rate = _percent(values, "rate", errors)
    step = _percent(values, "step", errors) if kind == "step_up" else None
    waiver = {}
    for c in COMPONENTS:
        name = f"waiver_{c}"
        text = values.get(name, "") or "0"
        try:
            waiver[c] = yuan_to_fen(text)
        except MoneyError:
            errors[name] = "amount"
            continue
        if waiver[c] < 0:
            errors[name] = "amount"
    if errors:
        return None, errors
    terms = Terms(periods=1 if settlement else periods, annual_rate=rate, holiday_months=0 if settlement else holiday,
                  step_up_share=step, waiver=Amounts(**waiver), waiver_conditional=bool(values.get("conditional")),
                  settlement=settlement)
    return terms, {}


def _whole(values: dict[str, str], name: str, errors: dict[str, str], *, required: bool) -> int:
    text = values.get(name, "")
    if not text:
        if required:
            errors[name] = "required"
        return 0
    if not _INT.match(text):
        errors[name] = "whole_number"
        return 0
    return int(text)


def _percent(values: dict[str, str], name: str, errors: dict[str, str]) -> Decimal:
    text = values.get(name, "")
    if not text:
        errors[name] = "required"
        return Decimal(0)
    try:
        value = Decimal(text.replace("%", "").strip())
    except InvalidOperation:
        errors[name] = "percent"
        return Decimal(0)
    if not value.is_finite() or value < 0 or value > HUNDRED:
        errors[name] = "percent"
        return Decimal(0)
    return value / HUNDRED


def limit_errors(violations: tuple[Violation, ...] | list[Violation]) -> dict[str, str]:
    """The services' limit refusals by form field (the first per field)."""
    out: dict[str, str] = {}
    for v in violations:
        out.setdefault(FIELD_OF.get(v.field, "waiver"), v.rule)
    return out
