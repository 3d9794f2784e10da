"""Reminders before the due date (strategy/predue.py) on SQLite and PostgreSQL: which current loans the
early-warning score and the window select, the guard's refusals logged with the rule, the outbox message (a
gentle notice: amount, date, how to pay, how to ask for help), one reminder per loan and due date however often
the dates run, and the call from end of day with the packaged rules."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from arrears.cases.tables import Case
from arrears.complaints.tables import Complaint
from arrears.contact.tables import OutboxMessage
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.schedules import ScheduledInstalment
from arrears.loans.tables import Instalment, Loan
from arrears.scores.tables import Score
from arrears.strategy.config import load_strategy
from arrears.strategy.predue import run_pre_delinquency
from arrears.strategy.tables import PreDueReminder
from strategy_helpers import write_rules
from support import CIPHER, add_borrower, add_loan, add_small_loan

D = date(2026, 3, 1)
NOW = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
PRE = {"source": "test", "window_days": 5, "score_max_age_days": 35}
RULES = [{"name": "hold_all", "when": {"stages": ["legal"]}, "actions": []}]
PRE_DUE = [{"name": "care", "when": {"early_warning": {"min": 100}},
            "actions": [{"do": "send", "template": "pre_due_care", "channel": "sms"}]}]


def config(tmp_path):
    return load_strategy(write_rules(tmp_path, [{"name": "solo", "role": "champion", "rules": RULES,
                                                 "pre_due": PRE_DUE}], pre_delinquency=PRE))


def _loan(s, i: int, due: date, *, probability: str | None = "0.500000", scored_on: date = date(2026, 2, 28),
          dpd: int = 0, paid: bool = False, kind: str = "early_warning"):
    b = add_borrower(s, no=f"B{i}", id_number=f"11010119900307{i:04d}", phone=f"1381234{i:04d}")
    loan = add_loan(s, b, f"L{i}", [ScheduledInstalment(1, due, 60_000, 900)], disbursed_on=date(2026, 1, 5),
                    actor="setup")
    s.add(LoanDelinquency(loan_id=loan.id, borrower_id=b.id, business_date=D, product_code=loan.product_code,
                          dpd=dpd, overdue_principal_fen=0, overdue_interest_fen=0, overdue_fee_fen=0,
                          overdue_penalty_fen=0, penalty_due_fen=0, outstanding_principal_fen=60_000,
                          total_outstanding_fen=60_900, bucket="current", tier="current", m_bucket="M0",
                          classification="normal", in_observation=False, fully_paid=False))
    if probability is not None:
        s.add(Score(loan_id=loan.id, kind=kind, as_of=scored_on, probability=Decimal(probability),
                    model_version="test-1"))
    if paid:
        inst = s.scalars(select(Instalment).where(Instalment.loan_id == loan.id)).one()
        inst.principal_paid_fen, inst.interest_paid_fen = inst.principal_due_fen, inst.interest_due_fen
    s.flush()
    return loan


@pytest.fixture
def world(db, tmp_path):
    plan = {  # name: (due date, options)
        "in_window": (date(2026, 3, 4), {}),
        "first_day": (date(2026, 3, 3), {}),  # D + 2: the message (next morning) comes a day before
        "last_day": (date(2026, 3, 6), {}),  # D + window_days
        "tomorrow": (date(2026, 3, 2), {}),  # the reminder would arrive on the due date
        "too_far": (date(2026, 3, 7), {}),
        "half_up": (date(2026, 3, 4), {"probability": "0.099500"}),  # 99.5 ‰ → 100
        "below": (date(2026, 3, 4), {"probability": "0.099499"}),
        "unscored": (date(2026, 3, 4), {"probability": None}),
        "stale": (date(2026, 3, 4), {"scored_on": date(2026, 1, 24)}),  # 36 days old
        "fresh_edge": (date(2026, 3, 4), {"scored_on": date(2026, 1, 25)}),  # 35 days old
        "overdue": (date(2026, 3, 4), {"dpd": 3}),
        "paid_ahead": (date(2026, 3, 4), {"paid": True}),
        "propensity_only": (date(2026, 3, 4), {"kind": "propensity", "probability": "0.100000"}),
        "open_case": (date(2026, 3, 4), {}),
    }
    with db.session() as s:
        loans = {name: _loan(s, i, due, **kw).id for i, (name, (due, kw)) in enumerate(plan.items())}
        loan = s.get(Loan, loans["open_case"])
        s.add(Case(loan_id=loan.id, borrower_id=loan.borrower_id, stage="preparation", status="open",
                   opened_on=date(2026, 2, 20), next_action="", version=1))
        s.commit()
    return {"db": db, "config": config(tmp_path), "loans": loans}


def _reminders(s):
    return s.scalars(select(PreDueReminder).order_by(PreDueReminder.id)).all()


def test_current_loans_at_risk_with_an_instalment_in_the_window_get_one_gentle_reminder(world):
    db, loans = world["db"], world["loans"]
    with db.session() as s:
        summary = run_pre_delinquency(s, D, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    expected = {"in_window", "first_day", "last_day", "half_up", "fresh_edge"}
    # six in the window with a fresh score ("below" too), five at or above the threshold
    assert summary == {"pre_due_loans": 6, "pre_due_matched": 5, "pre_due_staged": 5, "pre_due_refused": 0,
                       "pre_due_queued": 5}
    names = {v: k for k, v in loans.items()}
    with db.session() as s:
        rows = _reminders(s)
        assert {names[r.loan_id] for r in rows} == expected
        r = next(r for r in rows if names[r.loan_id] == "in_window")
        assert (r.status, r.due_on, r.instalment_no, r.amount_due_fen, r.early_warning, r.rule, r.strategy) == \
            ("queued", date(2026, 3, 4), 1, 60_900, 500, "care", "solo")
        assert {x.early_warning for x in rows if names[x.loan_id] == "half_up"} == {100}
        message = s.get(OutboxMessage, r.outbox_id)
        assert (message.loan_id, message.case_id, message.channel, message.template, message.dedupe_key) == \
            (r.loan_id, None, "sms", "pre_due_care", f"pre_due:{r.loan_id}:2026-03-04:0")
        # next morning 09:00 Asia/Shanghai (01:00 UTC), after any collection message of the same run
        assert message.next_attempt_at == datetime(2026, 3, 2, 1, 1, 40, tzinfo=UTC)
        body = CIPHER.decrypt(message.body_enc)
        # amount, due date, how to pay, whom to call for help
        assert all(x in body for x in ("609.00", "2026年3月4日", "手机银行", "400-000-0000", "困难"))
        assert not any(word in body for word in ("逾期", "后果", "征信", "起诉", "罚息"))  # nothing about consequences


def test_running_a_date_again_or_the_next_date_queues_nothing_new(world):
    db, loans = world["db"], world["loans"]

    def run(day):  # noqa: ANN001, ANN202
        with db.session() as s:
            summary = run_pre_delinquency(s, day, config=world["config"], cipher=CIPHER, now=NOW)
            s.commit()
        with db.session() as s:
            return summary, [r.loan_id for r in _reminders(s)], s.scalar(select(func.count()).select_from(OutboxMessage))

    first, rows, messages = run(D)
    assert (first["pre_due_queued"], len(rows), messages) == (5, 5, 5)
    again, rows_again, messages_again = run(D)
    assert (again["pre_due_matched"], again["pre_due_queued"], rows_again, messages_again) == (0, 0, rows, 5)
    # the next date: the five are still in the window (not reminded twice); 03-07 enters it (too_far, once)
    nxt, rows_next, messages_next = run(date(2026, 3, 2))
    assert (nxt["pre_due_queued"], rows_next, messages_next) == (1, rows + [loans["too_far"]], 6)
    assert run(date(2026, 3, 2))[1:] == (rows_next, 6)


def test_the_guard_refuses_and_the_refusal_is_logged_with_its_rule_then_tried_again_next_day(world):
    db, loans = world["db"], world["loans"]
    with db.session() as s:
        loan = s.get(Loan, loans["in_window"])
        s.add(Complaint(borrower_id=loan.borrower_id, case_id=None, channel="portal", category="conduct",
                        status="open", text_enc=CIPHER.encrypt("太频繁"), filed_at=NOW, sla_due_on=D))
        s.commit()
    with db.session() as s:
        summary = run_pre_delinquency(s, D, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    assert (summary["pre_due_staged"], summary["pre_due_refused"], summary["pre_due_queued"]) == (4, 1, 4)
    with db.session() as s:
        refused = [r for r in _reminders(s) if r.loan_id == loans["in_window"]]
        assert [(r.status, r.refused_rule, r.dedupe_key, r.outbox_id) for r in refused] == \
            [("refused", "open_complaint", None, None)]
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.loan_id == loans["in_window"])) == 0
    with db.session() as s:  # the same date again: no second refusal; the next date: asked again
        assert run_pre_delinquency(s, D, config=world["config"], now=NOW)["pre_due_refused"] == 0
        assert run_pre_delinquency(s, date(2026, 3, 2), config=world["config"], now=NOW)["pre_due_refused"] == 1
        s.commit()


def test_end_of_day_sends_reminders_with_the_packaged_rules(db, tmp_path):
    from arrears.delinquency.service import run_date
    from arrears.delinquency.snapshots import SnapshotStore

    with db.session() as s:
        loan = add_small_loan(s, add_borrower(s))  # instalments due 02-05 and 03-05
        s.add(Score(loan_id=loan.id, kind="early_warning", as_of=date(2026, 1, 30), probability=Decimal("0.4"),
                    model_version="test-1"))
        s.commit()
    day = date(2026, 2, 1)  # 02-05 is 4 days ahead; both arms' thresholds (100 ‰, 60 ‰) are below 400 ‰
    summary = run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), day, today=date(2026, 6, 30))
    assert summary.strategy["pre_due_staged"] == 1 and summary.strategy["cases"] == 0
    with db.session() as s:
        r = s.scalars(select(PreDueReminder)).one()
        assert (r.loan_id, r.due_on, r.amount_due_fen, r.status, r.template) == \
            (loan.id, date(2026, 2, 5), 60_900, "staged", "pre_due_care")
        assert r.strategy in {"standard", "early_call"} and r.experiment == "exp-2026-h2"
