"""run_date takes the incremental path for the dates after a complete run (the journal's watermark names the
loans changed since) and stores exactly what a full run of the same date stores: the snapshot partition, each
loan's state, the day's transitions, the instalments' penalties and their ledger entries — on SQLite and
PostgreSQL, with a backdated payment, a reversal, a payment on time, days with nothing new and a gap."""

from datetime import date

from sqlalchemy import func, select, text
from support import add_borrower, add_loan

from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.delinquency.store import STATE_COLUMNS
from arrears.ledger.service import check_ledger
from arrears.ledger.tables import JournalEntry
from arrears.loans.payments import post_payment, reverse_payment

TODAY = date(2024, 6, 30)
INSTALMENT = 102_500  # schedule(): 100,000 principal + 2,500 interest, due 02-01, 03-01, 04-01


def _pay(s, loan_id, received_on, key, amount=INSTALMENT):
    return post_payment(s, loan_id=loan_id, amount_fen=amount, received_on=received_on, idempotency_key=key,
                        actor="t", today=TODAY)


def _stored(db, store, day):
    """Everything a run of ``day`` leaves behind, as comparable values."""
    with db.session() as s:
        state = s.execute(text(f"SELECT {', '.join(STATE_COLUMNS)} FROM loan_delinquency ORDER BY loan_id")).all()
        moves = s.execute(text("SELECT loan_id, kind, from_value, to_value FROM delinquency_transitions "
                               "WHERE business_date = :d ORDER BY loan_id, kind"), {"d": day}).all()
        penalties = s.execute(text("SELECT loan_id, seq, penalty_due_fen FROM instalments "
                                   "ORDER BY loan_id, seq")).all()
        entries = s.scalar(select(func.count()).select_from(JournalEntry))
        assert check_ledger(s).ok
    return {"snapshot": store.read(day), "state": [tuple(r) for r in state], "moves": [tuple(r) for r in moves],
            "penalties": [tuple(r) for r in penalties], "entries": entries}


def test_the_wired_incremental_run_stores_what_a_full_run_stores(db, tmp_path):
    store = SnapshotStore(tmp_path / "snapshots")
    with db.session() as s:
        b = add_borrower(s)
        ids = [add_loan(s, b, f"L{k}").id for k in range(1, 7)]
        s.commit()
        never, ontime, one, backdated, reversed_, two = ids
        for seq, day in ((1, date(2024, 2, 1)), (2, date(2024, 3, 1)), (3, date(2024, 4, 1))):
            _pay(s, ontime, day, f"ok-{seq}")
        _pay(s, one, date(2024, 2, 1), "one-1")
        _pay(s, two, date(2024, 2, 1), "two-1")
        undone = _pay(s, two, date(2024, 3, 1), "two-2")  # on time; reversed after the loan was carried over
        bounced = _pay(s, reversed_, date(2024, 2, 1), "rev-1")
        s.commit()

    first = run_date(db.factory, store, date(2024, 3, 10), today=TODAY)
    assert first.mode == "full" and first.loans == 6

    def changes(day):
        with db.session() as s:
            if day == date(2024, 3, 11):
                _pay(s, backdated, date(2024, 2, 20), "late-1", amount=110_000)  # booked now, value date in February
                reverse_payment(s, payment_id=bounced.payment_id, reason="bounced", actor="t", today=TODAY)
            if day == date(2024, 3, 12):  # only the journal's watermark can tell: nothing dated after 03-11
                reverse_payment(s, payment_id=undone.payment_id, reason="bounced", actor="t", today=TODAY)
            if day == date(2024, 3, 13):
                _pay(s, one, date(2024, 3, 13), "one-2", amount=50_000)  # a part payment on the day
            s.commit()

    carried = 0
    for day in (date(2024, 3, 11), date(2024, 3, 12), date(2024, 3, 13), date(2024, 4, 5)):
        changes(day)
        summary = run_date(db.factory, store, day, today=TODAY)
        assert summary.mode == "incremental" and summary.loans == 6
        carried += summary.loans - summary.recomputed
        incremental = _stored(db, store, day)
        again = run_date(db.factory, store, day, today=TODAY, incremental=False)  # the same date, in full
        assert again.mode == "full" and again.recomputed == 6
        full = _stored(db, store, day)
        assert incremental["snapshot"].equals(full["snapshot"])
        assert {k: v for k, v in incremental.items() if k != "snapshot"} == {k: v for k, v in full.items()
                                                                          if k != "snapshot"}
    assert carried > 0  # loans really were carried over, not recomputed
    # What the next date reads only the changes to (the bulk path, PostgreSQL): the newest two dates' alone.
    kept = sorted(p.parent.name for p in (tmp_path / "snapshots").glob("*/inputs_instalments.arrow"))
    assert kept == (["business_date=2024-03-13", "business_date=2024-04-05"] if db.engine.dialect.name == "postgresql"
                    else [])
    snapshot = store.read(date(2024, 4, 5)).to_pydict()
    dpd = dict(zip(snapshot["loan_id"], snapshot["dpd"]))
    assert dpd[never] == 64 and dpd[ontime] == 0 and dpd[reversed_] == 64 and dpd[two] == 35
    assert dpd[backdated] == 35  # instalment 1 settled in February: the oldest unpaid is 03-01's
