"""Reading the engine's inputs: on PostgreSQL the bulk path (COPY BINARY through ADBC, one pass over the
allocations, totals as of D computed in DuckDB) gives the same tables as the plain per-table queries, for a
business date before, between and after the payments (a run of a past date leaves out what came later)."""

from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import text
from support import add_borrower, add_loan

from arrears.delinquency import io
from arrears.delinquency.model import INSTALMENTS, LOANS, SETTLEMENTS
from arrears.loans.payments import post_payment, reverse_payment

TODAY = date(2024, 6, 30)


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


@pytest.mark.parametrize("day", [date(2024, 1, 15), date(2024, 2, 10), date(2024, 3, 5), date(2024, 6, 1)])
def test_bulk_read_equals_the_plain_queries(db, day):
    with db.session() as s:
        b = add_borrower(s)
        late, ontime, third = add_loan(s, b, "L1"), add_loan(s, b, "L2"), add_loan(s, b, "L3")
        s.commit()
        for key, loan, amount, when in (("a", late, 50_000, date(2024, 2, 20)), ("b", ontime, 102_500, date(2024, 1, 31)),
                                        ("c", ontime, 102_500, date(2024, 3, 3)), ("d", third, 300_000, date(2024, 2, 1)),
                                        ("e", late, 80_000, date(2024, 4, 2))):
            post_payment(s, loan_id=loan.id, amount_fen=amount, received_on=when, idempotency_key=key, actor="t",
                         today=TODAY)
        s.commit()
        bounced = s.scalar(text("SELECT id FROM payments WHERE idempotency_key = 'd'"))
        reverse_payment(s, payment_id=bounced, reason="bounced", actor="t", today=TODAY)
        s.commit()
        bulk = io.read_inputs(s, day)  # PostgreSQL: the bulk path; SQLite: the plain queries
        on = {"business_date": day}
        plain = (io._read(s, io.LOANS_SQL, LOANS), io._read(s, io.INSTALMENTS_SQL, INSTALMENTS, on),
                 io._read(s, io.SETTLEMENTS_SQL, SETTLEMENTS, on))
    assert _sorted(bulk[0], ["loan_id"]).equals(plain[0])
    assert _sorted(bulk[1], ["loan_id", "seq"]).equals(plain[1])
    keys = list(SETTLEMENTS.names)
    assert _sorted(bulk[2], keys).equals(_sorted(plain[2], keys))
    assert plain[1].num_rows == 9
    if day >= date(2024, 3, 5):  # L1's payment of 02-20 came after its due date: seen one by one
        assert plain[2].num_rows > 0
