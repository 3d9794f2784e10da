"""Message content rules for one text (the bulk guard runs the same patterns column-wise with RE2).

The phrase lists and the money-expression pattern are configuration (``forbidden.yaml``); this module
only applies them. A stated amount is the first number of each money expression, × 10,000 when the
expression says 万, in fen; any stated amount other than the amount owed is a false amount.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

from arrears.compliance.policy import Profile
from arrears.money import FEN_PER_YUAN

NUMBER = "[0-9][0-9,]*(?:[.][0-9]+)?"  # the number inside a matched money expression
WAN = "万"
WAN_FACTOR = 10_000


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def content_hits(profile: Profile, text: str) -> list[str]:
    """The content rules the text breaks, in the profile's order."""
    return [rule for rule, pattern in profile.content if _compiled(pattern).search(text)]


def mentions_debt(profile: Profile, text: str) -> bool:
    return _compiled(profile.disclosure).search(text) is not None


def stated_amounts_fen(profile: Profile, text: str) -> list[Decimal]:
    """Every amount the text states, in fen (not necessarily whole: 1.2345 元 is no amount anyone owes)."""
    amounts = []
    number = _compiled(NUMBER)
    for match in _compiled(profile.amounts).finditer(text):
        expression = match.group(0)
        digits = number.search(expression).group(0).replace(",", "")  # type: ignore[union-attr]
        factor = FEN_PER_YUAN * (WAN_FACTOR if WAN in expression else 1)
        amounts.append(Decimal(digits) * factor)
    return amounts


def false_amount(profile: Profile, text: str, owed_fen: int | None) -> bool:
    """A stated amount that is not the amount owed; without an amount owed, any stated amount is unproven."""
    amounts = stated_amounts_fen(profile, text)
    return bool(amounts) and (owed_fen is None or any(a != owed_fen for a in amounts))
