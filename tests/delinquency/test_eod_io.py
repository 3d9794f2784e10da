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
from arrears.loans.one_by_one import one_by_one
from arrears.loans.payments import apply_credit, post_payment, reverse_payment

TODAY = date(2024, 6, 30)


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


def _plain(s, day):
    on = {"business_date": day}
    return (io._read(s, io.LOANS_SQL, LOANS), io._read(s, io.INSTALMENTS_SQL, INSTALMENTS, on),
            io._read(s, io.SETTLEMENTS_SQL, SETTLEMENTS, on))


def _same(bulk, plain) -> None:
    assert _sorted(bulk[0], ["loan_id"]).equals(plain[0])
    assert _sorted(bulk[1], ["loan_id", "seq"]).equals(plain[1])
    keys = list(SETTLEMENTS.names)
    assert _sorted(bulk[2], keys).equals(_sorted(plain[2], keys))


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
        plain = _plain(s, day)
    _same(bulk, plain)
    assert plain[1].num_rows == 9
    if day >= date(2024, 3, 5):  # L1's payment of 02-20 came after its due date: seen one by one
        assert plain[2].num_rows > 0


@pytest.mark.parametrize("day", [date(2023, 12, 20), date(2024, 2, 10), date(2024, 6, 1)])
def test_bulk_read_takes_allocations_not_flagged_and_those_before_disbursement(db, day):
    """The bulk path reads the allocations flagged one_by_one, so one written without the flag (NULL) must still
    reach the engine, and so must one dated before the loan's disbursement (the engine rejects that loan), a
    credit applied late, and a component the engine does not know."""
    with db.session() as s:
        b = add_borrower(s)
        early, unflagged, odd = add_loan(s, b, "L1"), add_loan(s, b, "L2"), add_loan(s, b, "L3")
        s.commit()
        for key, loan, amount, when in (("a", early, 102_500, date(2024, 1, 20)),
                                        ("b", unflagged, 50_000, date(2024, 2, 20)),
                                        ("c", unflagged, 250_000, date(2024, 1, 25)),
                                        ("d", odd, 102_500, date(2024, 1, 30))):
            post_payment(s, loan_id=loan.id, amount_fen=amount, received_on=when, idempotency_key=key, actor="t",
                         today=TODAY)
        s.commit()
        apply_credit(s, loan_id=unflagged.id, on=date(2024, 4, 3), actor="t")
        s.execute(text("UPDATE payment_allocations SET one_by_one = NULL WHERE loan_id = :l"), {"l": unflagged.id})
        for loan, component, when in ((early, "interest", date(2023, 12, 1)),  # before the disbursement, 2024-01-01
                                      (odd, "bonus", date(2024, 1, 30))):  # a component the engine does not know
            first = s.scalar(text("SELECT min(id) FROM instalments WHERE loan_id = :l"), {"l": loan.id})  # due 02-01
            s.execute(text("""INSERT INTO payment_allocations (source, loan_id, instalment_id, component, amount_fen,
                                                               value_date, one_by_one)
                              VALUES ('payment', :l, :i, :c, 100, :v, :f)"""),
                      {"l": loan.id, "i": first, "c": component, "v": when,
                       "f": one_by_one(when, date(2024, 2, 1), date(2024, 1, 1), component)})
        s.commit()
        flags = s.execute(text("SELECT one_by_one, count(*) FROM payment_allocations GROUP BY 1")).all()
        bulk = io.read_inputs(s, day)
        plain = _plain(s, day)
    _same(bulk, plain)
    assert {f for f, _ in flags} == {None, True, False}
    if day >= date(2024, 2, 10):  # the early allocation and the unknown component are read one by one
        assert {"bonus"} <= set(plain[2].column("component").to_pylist())
        assert date(2023, 12, 1) in plain[2].column("value_date").to_pylist()


def test_the_next_date_reads_only_the_changed_loans_and_equals_a_full_read(db, monkeypatch):
    """After the run of P, a payment (value date D), a reversal, a payment booked earlier with a value date between
    the two dates, a new loan, a closed loan and one reopened (no journal entry: it is read because P did not read
    it): reading D from P's rows and the loans changed since P's watermark
    gives exactly a full read of D. On PostgreSQL (the bulk path) the rows of a loan nothing reached are P's: an
    unchanged loan whose kept rows are marked shows the mark."""
    from arrears.delinquency.watermark import changed_since, journal_watermark

    monkeypatch.setattr(io, "FRESH_SHARE", 1)  # never fall back to a full read: six loans, most of them changed
    p, d = date(2024, 3, 5), date(2024, 3, 6)
    with db.session() as s:
        b = add_borrower(s)
        loans = [add_loan(s, b, f"L{k}") for k in range(1, 7)]
        s.commit()
        for key, loan, amount, when in (("a", loans[0], 50_000, date(2024, 2, 20)), ("b", loans[1], 102_500, date(2024, 1, 31)),
                                        ("c", loans[2], 102_500, date(2024, 2, 1)), ("d", loans[3], 80_000, date(2024, 2, 25)),
                                        ("e", loans[4], 102_500, date(2024, 2, 1))):
            post_payment(s, loan_id=loan.id, amount_fen=amount, received_on=when, idempotency_key=key, actor="t",
                         today=p)
        post_payment(s, loan_id=loans[1].id, amount_fen=30_000, received_on=d, idempotency_key="later", actor="t",
                     today=date(2024, 3, 9))  # booked before P's run (a catch-up, days late), value date D
        s.commit()
        s.execute(text("UPDATE loans SET status = 'closed' WHERE id = :l"), {"l": loans[5].id})
        s.commit()
        mark = journal_watermark(s)
        s.commit()
        read_p = io.read_inputs(s, p)
        untouched = loans[3].id
        marked = read_p[1].set_column(  # a mark on the unchanged loan's kept rows: its rows on D must be these
            read_p[1].schema.get_field_index("fee_settled_fen"), "fee_settled_fen",
            pa.array([7 if i == untouched else 0 for i in read_p[1].column("loan_id").to_pylist()], pa.int64()))
        kept = {"loan_ids": read_p[0].select(["loan_id"]), "instalments": marked, "settlements": read_p[2]}
        post_payment(s, loan_id=loans[0].id, amount_fen=40_000, received_on=d, idempotency_key="f", actor="t", today=d)
        reverse_payment(s, payment_id=s.scalar(text("SELECT id FROM payments WHERE idempotency_key = 'c'")),
                        reason="bounced", actor="t", today=d)
        new = add_loan(s, b, "L7")
        s.execute(text("UPDATE loans SET status = 'closed' WHERE id = :l"), {"l": loans[4].id})
        s.execute(text("UPDATE loans SET status = 'active' WHERE id = :l"), {"l": loans[5].id})
        s.commit()
        changed = changed_since(s, mark, p, d)
        incremental = io.read_inputs(s, d, kept=io.KeptInputs(**kept, changed=changed))
        full = io.read_inputs(s, d)
        bulk = io.reads_changed_only(s)
    assert {loans[0].id, loans[1].id, loans[2].id} <= set(changed.to_pylist())
    assert untouched not in changed.to_pylist() and loans[5].id not in changed.to_pylist()
    assert loans[5].id in full[0].column("loan_id").to_pylist() and loans[5].id not in read_p[0].column("loan_id").to_pylist()
    assert new.id in full[0].column("loan_id").to_pylist() and loans[4].id not in full[0].column("loan_id").to_pylist()
    if not bulk:  # SQLite (and PostgreSQL without the driver) read everything: kept is not used
        _same(incremental, (_sorted(full[0], ["loan_id"]), _sorted(full[1], ["loan_id", "seq"]), full[2]))
        return
    fees = {(i, f) for i, f in zip(incremental[1].column("loan_id").to_pylist(),
                                   incremental[1].column("fee_settled_fen").to_pylist())}
    assert (untouched, 7) in fees and all(f == 0 for i, f in fees if i != untouched)
    unmarked = incremental[1].set_column(incremental[1].schema.get_field_index("fee_settled_fen"), "fee_settled_fen",
                                         pa.array([0] * incremental[1].num_rows, pa.int64()))
    _same((incremental[0], unmarked, incremental[2]),
          (_sorted(full[0], ["loan_id"]), _sorted(full[1], ["loan_id", "seq"]), full[2]))
