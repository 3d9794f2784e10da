"""The stored state (loan_delinquency) after each run is exactly the run's snapshot, however it was written: on
PostgreSQL only the rows that changed are rewritten and the rest moved to the new date (store.py), so this checks
the cases that path distinguishes — a loan new to the run, one gone from it (no longer active), one whose state
changed (a payment, days past due growing), one that only moved to the date — and the same date run twice."""

from datetime import date

from sqlalchemy import text
from support import add_borrower, add_loan

from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import STATE_COLUMNS
from arrears.loans.payments import post_payment

TODAY = date(2024, 6, 30)


def _stored(s) -> list[dict]:
    rows = s.execute(text(f"SELECT {', '.join(STATE_COLUMNS)} FROM loan_delinquency ORDER BY loan_id")).mappings()
    return [{k: (date.fromisoformat(v) if k == "business_date" and isinstance(v, str) else
                 bool(v) if k in ("in_observation", "fully_paid") else v) for k, v in r.items()} for r in rows]


def _expected(store: SnapshotStore, day: date) -> list[dict]:
    snap = store.read(day).select(STATE_COLUMNS).sort_by("loan_id")
    return snap.to_pylist()


def test_the_stored_state_is_the_snapshot_after_every_run(db, tmp_path):
    store = SnapshotStore(tmp_path / "snapshots")
    with db.session() as s:
        b = add_borrower(s)
        late, paying, quiet, closing = (add_loan(s, b, f"L{k}") for k in range(1, 5))
        s.commit()
        post_payment(s, loan_id=quiet.id, amount_fen=400_000, received_on=date(2024, 1, 20), idempotency_key="q",
                     actor="t", today=TODAY)  # pays everything ahead: its state stays the same, only the date moves
        s.commit()
    days = [date(2024, 2, 10), date(2024, 2, 11), date(2024, 2, 20), date(2024, 2, 20), date(2024, 3, 10)]
    seen: list[int] = []
    for k, day in enumerate(days):
        if k == 2:  # between runs: a payment, a loan closed, a new loan booked
            with db.session() as s:
                post_payment(s, loan_id=paying.id, amount_fen=102_500, received_on=date(2024, 2, 15),
                             idempotency_key="p", actor="t", today=TODAY)
                s.execute(text("UPDATE loans SET status = 'closed' WHERE id = :l"), {"l": closing.id})
                newcomer = add_loan(s, add_borrower(s, "B2", id_number="110101199003071235", phone="13812345679"),
                                    "L5")
                s.commit()
        run_date(db.factory, store, day, today=TODAY)
        with db.session() as s:
            stored = _stored(s)
        assert stored == _expected(store, day), day
        seen.append(len(stored))
    ids = {r["loan_id"] for r in _expected(store, days[-1])}
    assert closing.id not in ids and newcomer.id in ids and late.id in ids
    assert seen == [4, 4, 4, 4, 4]  # L4 gone, L5 added

