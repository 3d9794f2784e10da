"""Questions other capabilities answer. Each is one function so its owner can replace the query in one place.

``loans_under_agreement``: loans with a valid agreement — an ``agreements`` row countersigned (in force, executed,
not breached, completed or renegotiated); see docs/agreements.md.

``loans_with_legal_outcome``: ``arrears.legal.outcomes.loans_with_outcome(session, outcomes)`` — loans whose
legal case closed with one of the outcomes (``terminated`` = 终结本次执行, ``recovered``, ``withdrawn``, ``settled``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

UNDER_AGREEMENT_SQL = "SELECT DISTINCT a.loan_id FROM agreements a WHERE a.status = 'countersigned'"


def loans_under_agreement(session: Session) -> set[int]:
    return {int(r[0]) for r in session.execute(text(UNDER_AGREEMENT_SQL))}


def loans_with_legal_outcome(session: Session, outcomes: Sequence[str]) -> list[int]:
    if not outcomes:
        return []
    from arrears.legal.outcomes import loans_with_outcome  # lazy: legal imports cases and loans

    return list(loans_with_outcome(session, list(outcomes)))
