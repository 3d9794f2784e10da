"""Write-off (核销) against the database: selection by rules leaving out loans under agreement, maker-checker
approval, balanced entries (check_ledger passes), the loan leaves collection, the debtor is told, later
recoveries are posted and reported."""

from datetime import date

import pytest
from sqlalchemy import func, select
from support import CIPHER, add_agreement_in_force, add_borrower, add_loan

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.auth.model import Principal, Role
from arrears.cases.tables import Case
from arrears.contact.tables import OutboxMessage
from arrears.credit.monthend import month_end
from arrears.credit.tables import CreditNegativeNotice, CreditSpecialEvent
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.errors import Forbidden, InvalidInput
from arrears.ledger.service import check_ledger, derived_balances
from arrears.ledger.tables import Posting
from arrears.loans.tables import Loan
from arrears.writeoff.service import decide_write_off, propose_write_off, record_recovery
from arrears.writeoff.tables import LoanExit

DAY = date(2025, 4, 30)  # the first instalment (2024-02-01) is 454 days overdue: class 损失 (loss)
LAWYER = Principal(1, "lawyer", "Lawyer", Role.legal)
BOSS = Principal(2, "boss", "Supervisor", Role.supervisor)


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        ids = {}
        for n in (1, 2):
            b = add_borrower(s, f"B{n}", id_number=f"11010119900307000{n}", phone=f"1390000000{n}")
            ids[f"L{n}"] = add_loan(s, b, f"L{n}").id
        s.commit()
    store = SnapshotStore(tmp_path / "snapshots")
    run_date(db.factory, store, DAY, today=DAY)
    with db.session() as s:  # L2's borrower signed a repayment agreement (in force: excluded from write-off)
        add_agreement_in_force(s, ids["L2"], DAY, due_on=date(2025, 12, 31))  # countersigning closes its case
        s.commit()
    return {"db": db, "store": store, "tmp": tmp_path, **ids}


def test_write_off_is_selected_approved_by_another_person_and_posted_balanced(book):
    with book["db"].session() as s:
        with pytest.raises(Forbidden):
            propose_write_off(s, principal=Principal(3, "c", "c", Role.collector), today=DAY)
        batch = propose_write_off(s, principal=LAWYER, today=DAY)
        assert batch.loans == 1  # L2 is under agreement
        owed = derived_balances(s, [book["L1"]])[book["L1"]]
        balance = sum(v for k, v in owed.items() if k.value.endswith("_receivable"))
        assert batch.amount_fen == balance > 0
        s.commit()
        with pytest.raises(Forbidden) as same:
            decide_write_off(s, batch_id=batch.id, approve=True, principal=Principal(9, "lawyer", "x", Role.admin),
                             today=DAY, expected_version=batch.version, cipher=CIPHER)
        assert same.value.rule == "writeoff.maker_checker"
        decide_write_off(s, batch_id=batch.id, approve=True, principal=BOSS, today=DAY,
                         expected_version=batch.version, cipher=CIPHER)
        s.commit()
        report = check_ledger(s)
        assert report.ok, report.problems
        loss = s.scalar(select(func.sum(Posting.debit_fen)).where(Posting.loan_id == book["L1"],
                                                                  Posting.account == "loan_loss"))
        assert loss == balance
        assert all(v == 0 for v in derived_balances(s, [book["L1"]])[book["L1"]].values())
        assert s.get(Loan, book["L1"]).status == "written_off" and s.get(Loan, book["L2"]).status == "active"
        case = s.scalar(select(Case).where(Case.loan_id == book["L1"]))
        assert (case.status, case.close_reason) == ("closed", "written_off")
        notice = s.scalar(select(OutboxMessage).where(OutboxMessage.loan_id == book["L1"]))
        assert notice.template == "write_off_notice" and notice.status == "pending"
        assert verify_events(s)[1] == []  # case chains closed in bulk and loan chains still verify
        exit_event = s.scalar(select(Event).where(Event.subject_type == "loan", Event.subject_id == str(book["L1"]))
                              .order_by(Event.seq.desc()).limit(1))
        assert exit_event.action == "loan.written_off"
        assert exit_event.after == {"amount_fen": balance, "batch_id": batch.id, "on": DAY.isoformat(),
                                                "status": "written_off"}
        assert s.scalar(select(func.count()).select_from(Event).where(
            Event.subject_type == "loan", Event.subject_id == str(book["L2"]), Event.action == "loan.written_off")) == 0
        event = s.scalar(select(CreditSpecialEvent).where(CreditSpecialEvent.loan_id == book["L1"]))
        assert (event.kind, event.amount_fen, event.occurred_on) == ("write_off", balance, DAY)


def test_recoveries_after_write_off_are_posted_and_reported(book):
    with book["db"].session() as s:
        batch = propose_write_off(s, principal=LAWYER, today=DAY)
        decide_write_off(s, batch_id=batch.id, approve=True, principal=BOSS, today=DAY,
                         expected_version=batch.version, cipher=CIPHER)
        written = s.get(LoanExit, book["L1"]).amount_fen
        with pytest.raises(InvalidInput) as active:
            record_recovery(s, loan_id=book["L2"], amount_fen=100, received_on=DAY, idempotency_key="r0",
                            actor="t", today=DAY)
        assert active.value.rule == "recovery.written_off_only"
        with pytest.raises(InvalidInput):
            record_recovery(s, loan_id=book["L1"], amount_fen=written + 1, received_on=DAY, idempotency_key="r1",
                            actor="t", today=DAY)
        record_recovery(s, loan_id=book["L1"], amount_fen=30_000, received_on=date(2025, 5, 20),
                        idempotency_key="r2", actor="t", today=date(2025, 5, 20))
        # B1 had been told and reported negative long ago (so the G record is not held back).
        s.add(CreditNegativeNotice(borrower_id=s.get(Loan, book["L1"]).borrower_id, loan_id=book["L1"], outbox_id=0,
                                   queued_on=date(2024, 3, 1), first_reported_month=date(2024, 3, 1)))
        s.commit()
        assert check_ledger(s).ok
        assert s.scalar(select(func.sum(Posting.credit_fen)).where(Posting.account == "recovery_income")) == 30_000
    run_date(book["db"].factory, book["store"], date(2025, 5, 31), today=date(2025, 6, 1))
    with book["db"].session() as s:
        result = month_end(s, month=date(2025, 5, 1), store=book["store"], out_dir=book["tmp"] / "credit",
                           today=date(2025, 6, 2), cipher=CIPHER, actor="t")
    import json
    lines = [json.loads(x) for x in result.path.read_text(encoding="utf-8").splitlines()[1:]]
    l1 = next(r for r in lines if r["account_no"] == "L1")
    assert (l1["account_state"], l1["status_24"][-2:], l1["balance_fen"]) == ("written_off", "GG", written - 30_000)


def test_a_rejected_batch_posts_nothing_and_frees_its_loans(book):
    with book["db"].session() as s:
        batch = propose_write_off(s, principal=LAWYER, today=DAY)
        postings = s.scalar(select(func.count()).select_from(Posting))
        decide_write_off(s, batch_id=batch.id, approve=False, principal=BOSS, today=DAY,
                         expected_version=batch.version, cipher=CIPHER, reason="recovery still likely")
        assert batch.status == "rejected" and s.scalar(select(func.count()).select_from(Posting)) == postings
        assert s.get(Loan, book["L1"]).status == "active"
        again = propose_write_off(s, principal=LAWYER, today=DAY)  # no longer held by an open batch
        assert again.loans == 1
