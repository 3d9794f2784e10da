"""run_strategy on the database (SQLite and PostgreSQL): decisions recorded per case and date, stage moves
within the lifecycle with events, tasks, the guard refusing (logged, not sent), messages queued in the
outbox, an idempotent re-run, and the call from end of day."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from arrears.audit.service import verify_events
from arrears.audit.tables import Event
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case, ContactLog
from arrears.complaints.tables import Complaint
from arrears.contact.tables import OutboxMessage
from arrears.queues.tables import WorkTask
from arrears.strategy.service import run_strategy
from arrears.strategy.tables import StrategyDecision, StrategySend
from strategy_helpers import one_strategy, open_case, transition
from support import CIPHER, add_borrower, add_small_loan

DAY = date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 14, 0, tzinfo=UTC)
RULES = [
    {"name": "hold", "when": {"flags": {"promise_open": True}}, "actions": []},
    {"name": "new", "when": {"stages": ["preparation"], "events": ["became_overdue"]},
     "actions": [{"do": "send", "template": "overdue_notice", "channel": "sms"}]},
    {"name": "move", "when": {"stages": ["preparation"], "days_open": {"min": 3}},
     "actions": [{"do": "escalate", "to": "reminder"}, {"do": "call", "team": "phone"}]},
]


@pytest.fixture
def world(db, tmp_path):
    config = one_strategy(RULES, tmp_path)
    with db.session() as s:
        cases = {}
        for i, (stage, opened) in enumerate((("preparation", DAY), ("preparation", date(2026, 3, 10)),
                                             ("phone", date(2026, 3, 1)))):
            b = add_borrower(s, no=f"B{i}", id_number=f"11010119900307{i:04d}", phone=f"1381234{i:04d}")
            loan = add_small_loan(s, b, no=f"L{i}")
            cases[i] = open_case(s, b, loan, stage=stage, opened_on=opened)
            if i == 0:
                transition(s, loan, DAY, "became_overdue")
        s.commit()
        ids = {i: c.id for i, c in cases.items()}
    return {"db": db, "config": config, "ids": ids}


def _count(s, table, *where):
    return s.scalar(select(func.count()).select_from(table).where(*where))


def test_each_case_gets_its_rule_and_the_actions_follow(world):
    db, ids = world["db"], world["ids"]
    with db.session() as s:
        summary = run_strategy(s, DAY, config=world["config"], now=NOW)
        s.commit()
    assert (summary["cases"], summary["matched"], summary["escalated"], summary["tasks"]) == (3, 2, 1, 1)
    with db.session() as s:
        rules = dict(s.execute(select(StrategyDecision.case_id, StrategyDecision.rule)
                               .where(StrategyDecision.business_date == DAY)).all())
        assert rules == {ids[0]: "new", ids[1]: "move", ids[2]: None}
        moved = s.get(Case, ids[1])
        stage = lifecycle().stage("reminder")
        assert (moved.stage, moved.version, moved.next_action) == ("reminder", 2, stage.next_action)
        assert (moved.next_action_due - DAY).days == stage.next_action_days
        assert s.get(Case, ids[2]).stage == "phone"
        event = s.scalars(select(Event).where(Event.subject_type == "case", Event.action == "case.stage_moved")).one()
        assert (event.subject_id, event.before, event.after["stage"]) == (str(ids[1]), {"stage": "preparation"},
                                                                           "reminder")
        task = s.scalars(select(WorkTask)).one()
        assert (task.case_id, task.kind, task.team, task.stage) == (ids[1], "call", "phone", "reminder")
        chain = s.scalars(select(Event).where(Event.subject_type == "case", Event.subject_id == str(ids[1]))
                          .order_by(Event.seq)).all()  # the move, then the task, on the case's own chain
        assert [(e.action, e.seq) for e in chain] == [("case.stage_moved", 1), ("task.created", 2)]
        assert chain[1].after == {"business_date": DAY.isoformat(), "kind": "call", "rule": "move",
                                  "stage": "reminder", "team": "phone"}
        send = s.scalars(select(StrategySend)).one()
        assert (send.case_id, send.channel, send.status) == (ids[0], "sms", "staged")
        assert _count(s, Event, Event.action == "strategy.run") == 1
        checked, problems = verify_events(s)
        assert problems == [] and checked > 0


def test_running_the_same_date_again_creates_nothing_new(world):
    db = world["db"]
    with db.session() as s:
        run_strategy(s, DAY, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    tables = (StrategyDecision, WorkTask, StrategySend, OutboxMessage, ContactLog, Event)
    with db.session() as s:
        before = [_count(s, t) for t in tables]
        version = s.get(Case, world["ids"][1]).version
        again = run_strategy(s, DAY, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    assert again["cases"] == 0 and again["queued"] == 0
    with db.session() as s:
        assert [_count(s, t) for t in tables] == before
        assert s.get(Case, world["ids"][1]).version == version


def test_allowed_messages_are_queued_in_the_outbox_once(world):
    db, ids = world["db"], world["ids"]
    with db.session() as s:
        summary = run_strategy(s, DAY, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    assert summary["queued"] == 1
    with db.session() as s:
        message = s.scalars(select(OutboxMessage)).one()
        send = s.scalars(select(StrategySend)).one()
        assert (message.case_id, message.channel, message.template) == (ids[0], "sms", "overdue_notice")
        assert (send.status, send.outbox_id, message.dedupe_key) == ("queued", message.id, send.dedupe_key)
        # planned for 09:00 the next day in the borrower's zone (Asia/Shanghai = 01:00 UTC)
        assert message.next_attempt_at == datetime(2026, 3, 21, 1, 0, tzinfo=UTC)
        assert "609.00" in CIPHER.decrypt(message.body_enc)  # what loan_delinquency says is owed


def test_a_refused_contact_is_logged_with_the_rule_and_not_sent(world):
    db, ids = world["db"], world["ids"]
    with db.session() as s:
        case = s.get(Case, ids[0])
        s.add(Complaint(borrower_id=case.borrower_id, case_id=case.id, channel="portal", category="conduct",
                        status="open", text_enc=CIPHER.encrypt("太频繁"), filed_at=NOW, sla_due_on=DAY))
        s.commit()
    with db.session() as s:
        summary = run_strategy(s, DAY, config=world["config"], cipher=CIPHER, now=NOW)
        s.commit()
    assert (summary["sends_refused"], summary["sends_staged"], summary["queued"]) == (1, 0, 0)
    with db.session() as s:
        log = s.scalars(select(ContactLog)).one()
        assert (log.case_id, log.allowed, log.refused_rule, log.method, log.outcome) == \
            (ids[0], False, "open_complaint", "sms", None)
        assert _count(s, OutboxMessage) == 0 and _count(s, StrategySend) == 0


def test_end_of_day_runs_the_strategy_on_the_cases_it_opens(db, tmp_path):
    from arrears.delinquency.service import run_date
    from arrears.delinquency.snapshots import SnapshotStore

    with db.session() as s:
        add_small_loan(s, add_borrower(s))
        s.commit()
    day = date(2026, 2, 10)  # the first instalment (due 02-05) is unpaid
    run_date(db.factory, SnapshotStore(tmp_path / "snapshots"), day, today=date(2026, 6, 30))
    with db.session() as s:
        decisions = s.scalars(select(StrategyDecision)).all()
        case = s.scalars(select(Case)).one()
        assert [(d.case_id, d.business_date) for d in decisions] == [(case.id, day)]
        assert decisions[0].strategy in {"standard", "early_call"}


def test_a_lawyer_letter_makes_a_legal_task_and_a_letter_that_needs_an_address(db, tmp_path):
    config = one_strategy([{"name": "letter", "when": {"stages": ["field_visit"], "dpd": {"min": 181}},
                            "actions": [{"do": "escalate", "to": "legal"},
                                        {"do": "lawyer_letter", "template": "overdue_notice", "team": "legal"}]}],
                          tmp_path)
    with db.session() as s:
        with_address = add_borrower(s, no="B1", address="北京市东城区某街1号")
        without = add_borrower(s, no="B2", id_number="110101199003070002", phone="13800000002")
        kept = open_case(s, with_address, add_small_loan(s, with_address, no="L1"), stage="field_visit", dpd=200)
        lost = open_case(s, without, add_small_loan(s, without, no="L2"), stage="field_visit", dpd=200)
        s.commit()
        ids = (kept.id, lost.id)
    with db.session() as s:
        summary = run_strategy(s, DAY, config=config, cipher=CIPHER, now=NOW)
        s.commit()
    assert (summary["escalated"], summary["tasks"], summary["queued"]) == (2, 2, 1)
    with db.session() as s:
        tasks = {t.case_id: (t.kind, t.team, t.stage) for t in s.scalars(select(WorkTask))}
        assert tasks == {i: ("letter", "legal", "legal") for i in ids}
        sends = {x.case_id: (x.channel, x.status, x.error) for x in s.scalars(select(StrategySend))}
        assert sends == {ids[0]: ("letter", "queued", None), ids[1]: ("letter", "failed", "recipient.missing")}
        message = s.scalars(select(OutboxMessage)).one()
        assert (message.case_id, message.channel) == (ids[0], "letter")


def test_messages_of_one_run_count_against_the_daily_cap_together(db, tmp_path):
    from arrears.compliance.policy import packaged_profiles

    cap = next(c for c in packaged_profiles()["cn-bank"].spec.caps if "sms" in c.methods and c.days == 1)
    config = one_strategy([{"name": "notice", "actions": [{"do": "send", "template": "overdue_notice",
                                                           "channel": "sms"}]}], tmp_path)
    with db.session() as s:
        b = add_borrower(s)
        for i in range(cap.limit + 2):  # one borrower, more overdue loans than the cap allows messages a day
            open_case(s, b, add_small_loan(s, b, no=f"L{i}"))
        s.commit()
    with db.session() as s:
        summary = run_strategy(s, DAY, config=config, now=NOW)
        s.commit()
    assert (summary["sends_staged"], summary["sends_refused"]) == (cap.limit, 2)
    with db.session() as s:
        assert {log.refused_rule for log in s.scalars(select(ContactLog))} == {cap.rule}
