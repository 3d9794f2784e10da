"""Money: integer fen (分) everywhere, Decimal rates, one rounding function.

Amounts are plain ``int`` counts of fen so that columns, Arrow arrays and SQL stay exact and
fast; the ``Fen`` alias documents intent. Floats are refused at every entry point: a float
cannot represent most decimal fractions, and an amount that went through one is already wrong.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from typing import NewType

Fen = NewType("Fen", int)

FEN_PER_YUAN = 100

# Rounding modes a product may name in its YAML ("rounding: half_up").
ROUNDING_MODES: dict[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_DOWN,
    "up": ROUND_UP,
}
DEFAULT_ROUNDING = "half_up"

_YUAN_TEXT = re.compile(r"^\s*[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?\s*$")


class MoneyError(ValueError):
    """An amount or rate that cannot be taken exactly."""


def round_fen(value: Decimal | int, mode: str = DEFAULT_ROUNDING) -> Fen:
    """The one rounding function: a Decimal quantity of fen to whole fen with an explicit mode."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise MoneyError(f"round_fen takes Decimal or int fen, not {type(value).__name__}")
    if isinstance(value, int):
        return Fen(value)
    try:
        return Fen(int(value.quantize(Decimal(1), rounding=ROUNDING_MODES[mode])))
    except KeyError:
        raise MoneyError(f"unknown rounding mode {mode!r}; use one of {sorted(ROUNDING_MODES)}") from None


def fen(value: int | str | Decimal) -> Fen:
    """An amount of fen from an int, or from yuan given as text or Decimal (at most 2 decimals)."""
    if isinstance(value, bool):
        raise MoneyError("a boolean is not an amount")
    if isinstance(value, int):
        return Fen(value)
    return yuan_to_fen(value)


def yuan_to_fen(value: str | Decimal) -> Fen:
    """'1,234.56' or Decimal('1234.56') yuan to 123456 fen; refuses floats and sub-fen digits."""
    if isinstance(value, float):
        raise MoneyError("amounts must not be floats; pass yuan as text or Decimal")
    if isinstance(value, str):
        if not _YUAN_TEXT.match(value):
            raise MoneyError(f"{value!r} is not an amount in yuan with at most two decimals")
        value = Decimal(value.strip().replace(",", ""))
    if not isinstance(value, Decimal):
        raise MoneyError(f"cannot take an amount from {type(value).__name__}")
    if not value.is_finite():
        raise MoneyError("amount must be finite")
    scaled = value * FEN_PER_YUAN
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{value} yuan has more than two decimals")
    return Fen(int(scaled))


def fen_to_yuan(amount: int) -> Decimal:
    """123456 fen to Decimal('1234.56') yuan, exact."""
    return (Decimal(amount) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_yuan(amount: int, symbol: str = "") -> str:
    """Yuan with thousands separators and two decimals: 123456 -> '1,234.56'."""
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), FEN_PER_YUAN)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def rate(value: str | Decimal | int) -> Decimal:
    """A rate as Decimal from text ('0.0435', '4.35%') or Decimal; refuses floats."""
    if isinstance(value, float) or isinstance(value, bool):
        raise MoneyError("rates must not be floats; pass text or Decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return Decimal(text[:-1]) / 100
            return Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"{value!r} is not a rate") from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("rate must be finite")
        return value
    raise MoneyError(f"cannot take a rate from {type(value).__name__}")


def apply_rate(amount: int, rate_: Decimal, mode: str = DEFAULT_ROUNDING) -> Fen:
    """amount × rate rounded once to the fen."""
    return round_fen(Decimal(amount) * rate_, mode)
