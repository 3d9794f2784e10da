"""Questions other capabilities answer. Each is one function so its owner can replace the query in one place.

``loans_under_agreement``: the agreements capability (built concurrently) marks a signed plan on the loan
(``loans.restructured``/``restructured_on``) and closes the case as ``agreement_in_force``. Until it ships an
agreements table, a loan counts as under a valid agreement when it was restructured and is not in arrears
again (dpd 0 or no end-of-day state yet), or its latest case closed as ``agreement_in_force``.

``loans_with_legal_outcome``: the legal capability (``src/arrears/legal/``) may provide
``arrears.legal.outcomes.loans_with_outcome(session, outcomes) -> list[int]``; without it no loan qualifies
for write-off by legal outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

UNDER_AGREEMENT_SQL = """
    SELECT l.id FROM loans l LEFT JOIN loan_delinquency d ON d.loan_id = l.id
    WHERE l.status = 'active' AND l.restructured_on IS NOT NULL AND coalesce(d.dpd, 0) = 0
    UNION
    SELECT c.loan_id FROM cases c
    WHERE c.close_reason = 'agreement_in_force'
      AND c.id = (SELECT max(x.id) FROM cases x WHERE x.loan_id = c.loan_id)"""


def loans_under_agreement(session: Session) -> set[int]:
    return {int(r[0]) for r in session.execute(text(UNDER_AGREEMENT_SQL))}


def loans_with_legal_outcome(session: Session, outcomes: Sequence[str]) -> list[int]:
    if not outcomes:
        return []
    try:
        from arrears.legal.outcomes import loans_with_outcome  # type: ignore[import-not-found]
    except ImportError:
        return []
    return list(loans_with_outcome(session, list(outcomes)))
