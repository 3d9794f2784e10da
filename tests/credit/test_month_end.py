"""Month-end credit records against the database (SQLite and PostgreSQL): the status strings of real
end-of-day histories, the notice before the first negative record, special transactions of a restructured
account, objections with their 20-day deadline and corrections re-reported, the file validator."""

import json
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select, update
from support import CIPHER, add_borrower, add_loan

from arrears.contact.tables import OutboxMessage
from arrears.credit.fileformat import validate_file
from arrears.credit.monthend import RULE_NOTICE, ensure_may_report_negative, month_end
from arrears.credit.objections import answer_objection, overdue_objections, record_objection
from arrears.credit.policy import credit_policy
from arrears.credit.tables import CreditSpecialEvent
from arrears.delinquency.service import run_date
from arrears.delinquency.snapshots import SnapshotStore
from arrears.errors import InvalidInput, NotFound
from arrears.loans.payments import post_payment
from arrears.loans.tables import Loan

TODAY = date(2024, 12, 31)
WAIT = credit_policy().negative_notice.wait_days
OPEN_BEFORE = "/"  # months before the loan was opened


@pytest.fixture
def book(db, tmp_path):
    with db.session() as s:
        late = add_loan(s, add_borrower(s, "B1"), "L1")  # 3 instalments due 2024-02-01 … 04-01, never paid
        ontime = add_loan(s, add_borrower(s, "B2", id_number="110101199003070000", phone="13900000002"), "L2")
        negotiated = add_loan(s, add_borrower(s, "B3", id_number="110101199003070001", phone="13900000003"), "L3")
        s.commit()
        for seq, day in ((1, date(2024, 1, 31)), (2, date(2024, 2, 29)), (3, date(2024, 3, 30))):
            post_payment(s, loan_id=ontime.id, amount_fen=102_500, received_on=day, idempotency_key=f"ok-{seq}",
                         actor="t", today=TODAY)
        post_payment(s, loan_id=negotiated.id, amount_fen=102_500, received_on=date(2024, 1, 31),
                     idempotency_key="n-1", actor="t", today=TODAY)
        # What the agreements capability does when a plan is signed: mark the loan restructured.
        s.execute(update(Loan).where(Loan.id == negotiated.id).values(restructured=True,
                                                                       restructured_on=date(2024, 2, 10)))
        s.commit()
        ids = {"L1": late.id, "L2": ontime.id, "L3": negotiated.id, "B1": late.borrower_id}
    store = SnapshotStore(tmp_path / "snapshots")
    return {"db": db, "store": store, "out": tmp_path / "credit", **ids}


def _eod(book, *days):
    for day in days:
        run_date(book["db"].factory, book["store"], day, today=TODAY)


def _month_end(book, month, today):
    with book["db"].session() as s:
        result = month_end(s, month=month, store=book["store"], out_dir=book["out"], today=today, cipher=CIPHER,
                           actor="tester")
        s.commit()
    check = validate_file(result.path, credit_policy())
    assert check.ok, check.problems
    lines = [json.loads(x) for x in result.path.read_text(encoding="utf-8").splitlines()]
    return result, {r["account_no"]: r for r in lines if r["record"] == "A"}, [r for r in lines if r["record"] == "S"]


def _mark_sent(book, on: date):
    """What the outbox worker does once the notice went out."""
    with book["db"].session() as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.template == "credit_negative_notice")
                  .values(status="sent", sent_at=datetime(on.year, on.month, on.day, 2, tzinfo=timezone.utc)))
        s.commit()


def test_status_strings_notice_before_negative_and_special_transactions(book):
    _eod(book, date(2024, 1, 31), date(2024, 2, 29))
    result, accounts, specials = _month_end(book, date(2024, 2, 1), today=date(2024, 3, 2))
    # L1 is 28 days late at the end of February: its first negative record waits for the notice.
    assert "L1" not in accounts and result.withheld == [
        {"account_no": "L1", "rule": RULE_NOTICE, "report_after": date(2024, 3, 2 + WAIT)}]
    assert result.notices_queued == 1
    assert accounts["L2"]["status_24"] == OPEN_BEFORE * 22 + "*N"
    # The restructured account: its special transaction (personalised instalment by default) is reported.
    assert accounts["L3"]["status_24"] == OPEN_BEFORE * 22 + "*N"
    assert [(x["account_no"], x["special_code"], x["special_kind"], x["occurred_on"]) for x in specials] == [
        ("L3", credit_policy().special_code("personalised_instalment"), "personalised_instalment", "2024-02-10")]
    with book["db"].session() as s:
        message = s.scalar(select(OutboxMessage).where(OutboxMessage.template == "credit_negative_notice"))
        assert message.borrower_id == book["B1"] and message.loan_id == book["L1"]
        with pytest.raises(InvalidInput) as refused:
            ensure_may_report_negative(s, book["B1"], date(2024, 3, 3))
        assert refused.value.rule == RULE_NOTICE

    # March: L3 pays off everything, L2 pays its last instalment early. The notice goes out on 3 April.
    with book["db"].session() as s:
        post_payment(s, loan_id=book["L3"], amount_fen=210_000, received_on=date(2024, 3, 20),
                     idempotency_key="n-2", actor="t", today=TODAY)
        s.commit()
    _eod(book, date(2024, 3, 21), date(2024, 3, 31))  # the late penalty is charged, then paid from held credit
    _mark_sent(book, date(2024, 4, 3))
    result, accounts, _ = _month_end(book, date(2024, 3, 1), today=date(2024, 4, 3 + WAIT - 1))
    assert [w["account_no"] for w in result.withheld] == ["L1"] and result.notices_queued == 0
    assert accounts["L3"]["status_24"].endswith("*NC") and accounts["L3"]["account_state"] == "settled"
    assert accounts["L2"]["status_24"].endswith("*NC")
    with book["db"].session() as s:
        with pytest.raises(InvalidInput):
            ensure_may_report_negative(s, book["B1"], date(2024, 4, 3 + WAIT - 1))
        ensure_may_report_negative(s, book["B1"], date(2024, 4, 3 + WAIT))  # allowed once the wait is over

    # Re-running March after the wait reports L1: 28 days late in February (1), 59 in March (2).
    result, accounts, _ = _month_end(book, date(2024, 3, 1), today=date(2024, 4, 3 + WAIT))
    assert result.withheld == [] and accounts["L1"]["status_24"] == OPEN_BEFORE * 21 + "*12"
    assert accounts["L1"]["dpd"] == 59 and accounts["L1"]["account_state"] == "overdue"
    # April: settled accounts are not reported again; L1 goes on (89 days: 3) without a new notice.
    _eod(book, date(2024, 4, 30))
    result, accounts, _ = _month_end(book, date(2024, 4, 1), today=date(2024, 5, 1))
    assert set(accounts) == {"L1"} and accounts["L1"]["status_24"] == OPEN_BEFORE * 20 + "*123"


def test_an_explicit_special_event_replaces_the_restructured_default(book):
    with book["db"].session() as s:
        s.add(CreditSpecialEvent(loan_id=book["L3"], borrower_id=1, kind="extension", occurred_on=date(2024, 2, 10),
                                 amount_fen=0, months_changed=6, detail="展期 6 个月", source="agreements"))
        s.commit()
    _eod(book, date(2024, 2, 29))
    _, _, specials = _month_end(book, date(2024, 2, 1), today=date(2024, 3, 1))
    assert [(x["special_kind"], x["months_changed"], x["detail"]) for x in specials] == [
        ("extension", 6, "展期 6 个月")]


def test_month_end_refuses_an_open_month_or_one_without_end_of_day(book):
    with book["db"].session() as s:
        for month, today, rule in ((date(2024, 2, 1), date(2024, 2, 29), "credit.month_complete"),
                                   (date(2024, 1, 1), date(2024, 2, 5), "credit.month_has_eod")):
            with pytest.raises(InvalidInput) as refused:
                month_end(s, month=month, store=book["store"], out_dir=book["out"], today=today, cipher=CIPHER,
                          actor="t")
            assert refused.value.rule == rule


def test_objection_marks_disputed_is_answered_in_20_days_and_corrections_are_re_reported(book):
    _eod(book, date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31))
    with book["db"].session() as s:
        with pytest.raises(NotFound) as unknown:
            record_objection(s, loan_id=999_999, claim="不是我的贷款", received_on=date(2024, 3, 5), actor="t",
                             cipher=CIPHER, today=date(2024, 3, 5))
        assert unknown.value.rule == "credit.objection_account_known"
        objection = record_objection(s, loan_id=book["L2"], claim="二月已按时还款,记录有误", actor="t",
                                     received_on=date(2024, 3, 5), cipher=CIPHER, today=date(2024, 3, 5))
        s.commit()
        assert objection.due_on == date(2024, 3, 25)  # 20 days (征信业管理条例 Art. 25)
        assert [o.id for o in overdue_objections(s, date(2024, 3, 25))] == []
        assert [o.id for o in overdue_objections(s, date(2024, 3, 26))] == [objection.id]
        oid, version = objection.id, objection.version
    _, accounts, _ = _month_end(book, date(2024, 3, 1), today=date(2024, 4, 1))
    assert accounts["L2"]["disputed"] is True and accounts["L2"]["correction"] is False
    with book["db"].session() as s:
        with pytest.raises(InvalidInput) as bad:
            answer_objection(s, objection_id=oid, upheld=True, answer="已更正", corrections=[(date(2024, 2, 1), "x")],
                             today=date(2024, 3, 20), actor="t", cipher=CIPHER, expected_version=version)
        assert bad.value.rule == "credit.correction_code"
        done = answer_objection(s, objection_id=oid, upheld=True, answer="经核查,二月记录更正为正常",
                                corrections=[(date(2024, 1, 1), "N")], today=date(2024, 3, 20), actor="t",
                                cipher=CIPHER, expected_version=version)
        assert (done.status, done.answered_late) == ("upheld", False)
        assert s.scalar(select(OutboxMessage.template).where(OutboxMessage.dedupe_key == f"credit-objection:{oid}")) \
            == "credit_objection_answer"
        s.commit()
    # The corrected month is re-reported in the next file, flagged, and then no longer flagged.
    _, accounts, _ = _month_end(book, date(2024, 3, 1), today=date(2024, 4, 2))
    assert accounts["L2"]["status_24"].endswith("NNC") and accounts["L2"]["correction"] is True
    assert accounts["L2"]["disputed"] is False
    _eod(book, date(2024, 4, 30))
    _, accounts, _ = _month_end(book, date(2024, 4, 1), today=date(2024, 5, 1))
    assert "L2" not in accounts  # settled in March, nothing pending: not reported again
