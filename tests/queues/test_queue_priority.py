"""Queue priority (queues/priority.py) on SQLite and PostgreSQL: expected recovery = latest propensity × amount
overdue, in integer fen rounded half up, an unscored loan at the configured default; a collector's queue and a
team's queue in that order, keyset-paged, read off the index; the API shows priority and the score's reasons;
the strategy run refreshes it without touching the tasks' versions."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from arrears.auth import service as auth
from arrears.cases.tables import Case
from arrears.delinquency.tables import LoanDelinquency
from arrears.errors import InvalidInput
from arrears.queues.priority import MICRO, priorities, priority_config, refresh_priorities
from arrears.queues.service import assign_open_tasks, my_queue, team_queue
from arrears.queues.tables import WorkTask
from arrears.scores.tables import Score
from support import PASSWORD, add_borrower, add_small_loan

DAY = date(2026, 3, 20)
# name: (amount overdue in fen, latest propensity or None)
BOOK = {"big_unlikely": (300_000, "0.200000"), "mid_likely": (100_000, "0.800000"),
        "unscored": (50_000, None), "odd": (3, "0.500000"), "paid_up": (0, "0.990000")}
EXPECTED = {"big_unlikely": 60_000, "mid_likely": 80_000, "unscored": 25_000, "odd": 2, "paid_up": 0}


def _book(s, user_id: int | None) -> dict[str, int]:
    """One open case, end-of-day state and task per entry of BOOK, assigned to ``user_id``; returns task ids."""
    ids = {}
    for i, (name, (owed, p)) in enumerate(BOOK.items()):
        b = add_borrower(s, no=f"B{i}", id_number=f"11010119900307{i:04d}", phone=f"1381234{i:04d}")
        loan = add_small_loan(s, b, no=f"L{i}")
        case = Case(loan_id=loan.id, borrower_id=b.id, stage="phone", status="open", opened_on=date(2026, 3, 1),
                    next_action="", version=1)
        s.add(case)
        s.add(LoanDelinquency(loan_id=loan.id, borrower_id=b.id, business_date=DAY, product_code=loan.product_code,
                              dpd=15, overdue_principal_fen=owed - owed // 3, overdue_interest_fen=owed // 3,
                              overdue_fee_fen=0, overdue_penalty_fen=0, penalty_due_fen=0,
                              outstanding_principal_fen=owed, total_outstanding_fen=owed, bucket="mild",
                              tier="mild", m_bucket="M1", classification="special_mention", in_observation=False,
                              fully_paid=False))
        if p is not None:
            s.add(Score(loan_id=loan.id, kind="propensity", as_of=date(2026, 3, 19), probability=Decimal(p),
                        reasons="dpd,n_late_6m", model_version="test-1"))
            # an older score of the same loan, and a newer early-warning one, do not count
            s.add(Score(loan_id=loan.id, kind="propensity", as_of=date(2026, 2, 1), probability=Decimal("0.010000"),
                        model_version="test-0"))
            s.add(Score(loan_id=loan.id, kind="early_warning", as_of=date(2026, 3, 20),
                        probability=Decimal("0.999000"), model_version="test-1"))
        s.flush()
        task = WorkTask(case_id=case.id, loan_id=loan.id, borrower_id=b.id, business_date=DAY, kind="call",
                        team="phone", language="zh-CN", product_code="consumer_loan", stage="phone", rule="r",
                        status="open", assignee_user_id=user_id)
        s.add(task)
        s.flush()
        ids[name] = task.id
    return ids


@pytest.fixture
def booked(db):
    with db.session() as s:
        user = auth.create_user(s, username="ann", display_name="Ann", password=PASSWORD, role="collector",
                                actor="t")
        ids = _book(s, user.id)
        s.commit()
    return db, user.id, ids


def test_priority_is_expected_recovery_and_orders_both_queues(booked):
    db, user_id, ids = booked
    with db.session() as s:
        versions = {t.id: t.version for t in s.scalars(select(WorkTask))}
        assert refresh_priorities(s) == 5  # paid_up: priority stays 0, its reasons are new
        s.commit()
    names = {v: k for k, v in ids.items()}
    with db.session() as s:
        mine = my_queue(s, user_id)
        assert {names[t.id]: t.priority for t in mine} == EXPECTED
        assert [names[t.id] for t in mine] == ["mid_likely", "big_unlikely", "unscored", "odd", "paid_up"]
        assert [t.id for t in team_queue(s, "phone")] == [t.id for t in mine]
        assert {names[t.id]: t.priority_reasons for t in mine}["mid_likely"] == "dpd,n_late_6m"
        assert {t.id: t.version for t in mine} == versions  # not a user's edit: open forms stay valid
        assert refresh_priorities(s) == 0  # nothing changed, nothing written


def test_a_new_propensity_score_reorders_the_queue(booked):
    db, user_id, ids = booked
    with db.session() as s:
        refresh_priorities(s)
        loan_id = s.get(WorkTask, ids["big_unlikely"]).loan_id
        s.add(Score(loan_id=loan_id, kind="propensity", as_of=DAY, probability=Decimal("0.900000"),
                    reasons="", model_version="test-2"))
        assert refresh_priorities(s) == 1
        s.commit()
    with db.session() as s:
        first = my_queue(s, user_id, limit=1)[0]
        assert (first.id, first.priority, first.priority_reasons) == (ids["big_unlikely"], 270_000, "")


def test_keyset_pages_cover_the_queue_once_in_order(booked):
    db, user_id, _ = booked
    with db.session() as s:
        refresh_priorities(s)
        s.commit()
    with db.session() as s:
        whole = [t.id for t in my_queue(s, user_id)]
        pages, after = [], None
        while True:
            page = my_queue(s, user_id, limit=2, after=after)
            if not page:
                break
            pages.append([t.id for t in page])
            after = (page[-1].priority, page[-1].id)
        assert [len(p) for p in pages] == [2, 2, 1] and sum(pages, []) == whole
        assert [t.id for t in team_queue(s, "phone", limit=3)] == whole[:3]
        with pytest.raises(InvalidInput):
            my_queue(s, user_id, limit=0)


def test_a_collectors_queue_is_read_off_the_index_in_order(booked):
    db, user_id, _ = booked
    with db.session() as s:
        query = select(WorkTask).where(WorkTask.assignee_user_id == user_id, WorkTask.status == "open") \
            .order_by(WorkTask.priority.desc(), WorkTask.id.desc()).limit(50)
        sql = str(query.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        if s.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "ix_work_tasks_assignee_queue" in plan and "TEMP B-TREE" not in plan
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
            assert "Index Scan Backward using ix_work_tasks_assignee_queue" in plan and "Sort" not in plan


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**11), st.one_of(st.none(), st.integers(0, MICRO)))
def test_priority_is_the_exact_half_up_product_in_fen(owed, p_micro):
    import pyarrow as pa

    tasks = pa.table({"id": pa.array([1], pa.int64()), "old_priority": pa.array([-1], pa.int64()),
                      "old_reasons": pa.array([""]), "owed_fen": pa.array([owed], pa.int64()),
                      "p_micro": pa.array([p_micro], pa.int64()), "reasons": pa.array([None], pa.string())})
    default = priority_config().unscored_propensity
    micro = p_micro if p_micro is not None else int(default * MICRO)
    expected = (Decimal(micro) * owed / MICRO).quantize(Decimal(1), rounding="ROUND_HALF_UP")
    assert priorities(tasks, default).column("priority").to_pylist() == [int(expected)]


def test_the_api_shows_priority_and_reasons_and_pages(db, make_client, tmp_path, monkeypatch):
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump({"source": "test", "teams": [
        {"code": "phone", "name_zh": "电话", "name_en": "Phone", "mode": "least_loaded",
         "collectors": [{"username": "collector", "capacity": 10}]}]}))
    monkeypatch.setenv("ARREARS_TEAMS_FILE", str(path))
    with make_client("collector", "supervisor") as client:
        with db.session() as s:
            _book(s, None)
            assign_open_tasks(s, now=datetime(2026, 3, 20, 14, 0, tzinfo=UTC))
            refresh_priorities(s)
            s.commit()
        headers = client.bearer("collector")
        first = client.get("/api/v1/queues/mine?limit=2", headers=headers)
        assert first.status_code == 200
        body = first.json()
        assert [t["priority"] for t in body] == [80_000, 60_000]
        assert [r["code"] for r in body[0]["priority_reasons"]] == ["dpd", "n_late_6m"]
        assert all(r["zh"] and r["en"] for r in body[0]["priority_reasons"])
        last = body[-1]
        rest = client.get(f"/api/v1/queues/mine?limit=10&after_priority={last['priority']}&after_id={last['id']}",
                          headers=headers).json()
        assert [t["priority"] for t in rest] == [25_000, 2, 0]
        half = client.get("/api/v1/queues/mine?after_priority=5", headers=headers)
        assert half.status_code == 422 and "after_id" in half.text
        assert client.get("/api/v1/queues/mine?limit=0", headers=headers).status_code == 422
        team = client.get("/api/v1/queues?team=phone&limit=1", headers=client.bearer("supervisor")).json()
        assert [t["priority"] for t in team] == [80_000]


def test_the_strategy_run_sets_the_priority_of_the_tasks_it_creates(db, tmp_path):
    from arrears.strategy.config import load_strategy
    from arrears.strategy.service import run_strategy

    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"source": "test rules", "experiment": "exp-test", "send_at_local": "09:00",
                                     "strategies": [{"name": "solo", "role": "champion", "rules": [
                                         {"name": "call", "when": {"stages": ["phone"]},
                                          "actions": [{"do": "call", "team": "phone"}]}]}]}))
    config = load_strategy(rules)
    with db.session() as s:
        b = add_borrower(s)
        loan = add_small_loan(s, b)
        s.add(Case(loan_id=loan.id, borrower_id=b.id, stage="phone", status="open", opened_on=date(2026, 3, 1),
                   next_action="", version=1))
        s.add(LoanDelinquency(loan_id=loan.id, borrower_id=b.id, business_date=DAY, product_code=loan.product_code,
                              dpd=15, overdue_principal_fen=60_300, overdue_interest_fen=600, overdue_fee_fen=0,
                              overdue_penalty_fen=0, penalty_due_fen=0, outstanding_principal_fen=60_300,
                              total_outstanding_fen=60_900, bucket="mild", tier="mild", m_bucket="M1",
                              classification="special_mention", in_observation=False, fully_paid=False))
        s.add(Score(loan_id=loan.id, kind="propensity", as_of=DAY, probability=Decimal("0.250000"),
                    reasons="dpd", model_version="test-1"))
        s.commit()
    with db.session() as s:
        summary = run_strategy(s, DAY, config=config, now=datetime(2026, 3, 20, 14, 0, tzinfo=UTC))
        s.commit()
        task = s.scalars(select(WorkTask)).one()
    assert summary["reprioritised"] == 1
    assert (task.priority, task.priority_reasons) == (15_225, "dpd")  # 0.25 × 60,900 fen


@pytest.mark.parametrize("mode", ["least_loaded", "round_robin"])
def test_when_room_is_short_the_highest_priority_tasks_are_assigned_first(tmp_path, mode):
    import pyarrow as pa

    from arrears.queues.assign import collectors_table, plan
    from arrears.queues.config import load_teams

    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump({"source": "test", "teams": [
        {"code": "phone", "name_zh": "电话", "name_en": "Phone", "mode": mode,
         "collectors": [{"username": "a", "capacity": 1}, {"username": "b", "capacity": 1}]}]}))
    tasks = pa.table({"id": pa.array([1, 2, 3, 4], pa.int64()), "team": ["phone"] * 4, "language": ["zh-CN"] * 4,
                      "product_code": ["consumer_loan"] * 4, "stage": ["phone"] * 4,
                      "priority": pa.array([10, 30, 0, 20], pa.int64())})
    no = pa.table({"user_id": pa.array([], pa.int64()), "load": pa.array([], pa.int64())})
    last = pa.table({"team": pa.array([], pa.string()), "user_id": pa.array([], pa.int64())})
    chosen = plan(tasks, collectors_table(load_teams(path), {"a": 1, "b": 2}), no, last)
    assert sorted(chosen.column("id").to_pylist()) == [2, 4]  # 30 and 20 fen of expected recovery
