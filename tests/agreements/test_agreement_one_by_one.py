"""The allocations an agreement writes (waivers, the penalty carried into the new schedule) carry the
``one_by_one`` flag end of day reads them by on PostgreSQL, set by the same rule as a payment's."""

import pytest
from agreement_helpers import debt_of, make_plan, overdue_loan, signed_and_countersigned
from sqlalchemy import select
from support import one_by_one_mismatches

from arrears.loans.tables import PaymentAllocation


@pytest.mark.parametrize("waive_penalty, source", [(True, "waiver"), (False, "restructure")])
def test_waiver_and_restructure_allocations_are_flagged(db, store, waive_penalty, source):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory)
        plan = make_plan(debt_of(s, lid), lid, waive_penalty=waive_penalty)
        signed_and_countersigned(s, plan, lid, bid)
        s.commit()
        sources = set(s.scalars(select(PaymentAllocation.source)))
        checked, wrong = one_by_one_mismatches(s)
    assert source in sources and checked > 0 and wrong == []
