"""Assigning tasks to collectors: capacity is never exceeded, least-loaded fills the emptiest first, round
robin takes turns (continuing after the team's last assignee), skills are respected; reassignment checks team,
skills and capacity, a supervisor's override skips them; both append an event; a collector's queue is theirs."""

from datetime import date

import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.auth import service as auth
from arrears.errors import Conflict, InvalidInput
from arrears.queues.assign import collectors_table, plan
from arrears.queues.config import load_teams
from arrears.queues.service import assign_open_tasks, my_queue, reassign, team_queue
from arrears.queues.tables import WorkTask
from support import PASSWORD, add_borrower, add_small_loan


def _teams(tmp_path, mode, collectors):
    path = tmp_path / f"teams-{mode}.yaml"
    path.write_text(yaml.safe_dump({"source": "test", "teams": [
        {"code": "phone", "name_zh": "电话", "name_en": "Phone", "mode": mode, "collectors": collectors}]}))
    return load_teams(path)


def _tasks(n, language="zh-CN", stage="phone", start=1):
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "team": ["phone"] * n,
                     "language": [language] * n, "product_code": ["consumer_loan"] * n, "stage": [stage] * n})


def _loads(pairs):
    return pa.table({"user_id": pa.array([p[0] for p in pairs], pa.int64()),
                     "load": pa.array([p[1] for p in pairs], pa.int64())})


NO_LAST = pa.table({"team": pa.array([], pa.string()), "user_id": pa.array([], pa.int64())})


def _who(chosen):
    return dict(zip(chosen.column("id").to_pylist(), chosen.column("assignee_user_id").to_pylist()))


def test_least_loaded_fills_the_emptiest_first(tmp_path):
    config = _teams(tmp_path, "least_loaded", [{"username": u, "capacity": 10} for u in ("a", "b", "c")])
    chosen = _who(plan(_tasks(6), collectors_table(config, {"a": 1, "b": 2, "c": 3}), _loads([(1, 4), (2, 1)]),
                       NO_LAST))
    held = {1: 4, 2: 1, 3: 0}
    for user in chosen.values():
        held[user] += 1
    assert held == {1: 4, 2: 4, 3: 3}  # 6 tasks levelled b and c up to a


def test_round_robin_takes_turns_after_the_last_assignee(tmp_path):
    config = _teams(tmp_path, "round_robin", [{"username": u, "capacity": 10} for u in ("a", "b", "c")])
    last = pa.table({"team": ["phone"], "user_id": pa.array([1], pa.int64())})
    chosen = _who(plan(_tasks(5), collectors_table(config, {"a": 1, "b": 2, "c": 3}), _loads([(1, 7)]), last))
    assert [chosen[i] for i in range(1, 6)] == [2, 3, 1, 2, 3]


def test_skills_decide_who_may_take_a_task(tmp_path):
    config = _teams(tmp_path, "least_loaded", [
        {"username": "zh", "languages": ["zh-CN"], "capacity": 10},
        {"username": "en", "languages": ["en"], "stages": ["phone"], "capacity": 10}])
    tasks = pa.concat_tables([_tasks(2, "en"), _tasks(2, "zh-CN", start=3), _tasks(1, "en", "legal", start=5)])
    chosen = _who(plan(tasks, collectors_table(config, {"zh": 1, "en": 2}), _loads([]), NO_LAST))
    assert chosen == {1: 2, 2: 2, 3: 1, 4: 1}  # task 5 (English, legal stage) waits: nobody covers it


@settings(max_examples=40, deadline=None)
@given(caps=st.lists(st.integers(0, 6), min_size=1, max_size=4), loads=st.lists(st.integers(0, 6), min_size=4,
                                                                                 max_size=4),
       n=st.integers(0, 30), mode=st.sampled_from(["least_loaded", "round_robin"]))
def test_capacity_is_never_exceeded_and_no_room_is_left_while_tasks_wait(caps, loads, n, mode):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        config = _teams(Path(tmp), mode, [{"username": f"u{i}", "capacity": c} for i, c in enumerate(caps)])
    users = {f"u{i}": i + 1 for i in range(len(caps))}
    start = {i + 1: min(loads[i], caps[i]) for i in range(len(caps))}
    chosen = _who(plan(_tasks(n), collectors_table(config, users), _loads(list(start.items())), NO_LAST))
    held = dict(start)
    for user in chosen.values():
        held[user] += 1
    assert all(held[i + 1] <= caps[i] for i in range(len(caps)))
    room = sum(caps) - sum(start.values())
    assert len(chosen) == min(n, room)
    if mode == "least_loaded" and chosen:  # whoever got a task had no more than anyone with room left
        for user in set(chosen.values()):
            took_last = held[user] - 1
            assert all(held[o] >= min(took_last, caps[o - 1]) for o in held)


def add_case(s):  # noqa: ANN001, ANN201
    """An open case on a new loan (borrower B1, language zh-CN)."""
    from arrears.cases.tables import Case

    loan = add_small_loan(s, add_borrower(s))
    case = Case(loan_id=loan.id, borrower_id=loan.borrower_id, stage="phone", status="open",
                opened_on=date(2026, 3, 1), next_action="", version=1)
    s.add(case)
    s.flush()
    return case


def add_tasks(s, case, n, language="zh-CN"):  # noqa: ANN001, ANN201
    for k in range(n):
        s.add(WorkTask(case_id=case.id, loan_id=case.loan_id, borrower_id=case.borrower_id,
                       business_date=date(2026, 3, 1 + k), kind="call", team="phone", language=language,
                       product_code="consumer_loan", stage="phone", rule="r", status="open"))
    s.flush()


TEAMS = {"source": "test", "teams": [
    {"code": "phone", "name_zh": "电话", "name_en": "Phone", "mode": "least_loaded", "collectors": [
        {"username": "ann", "capacity": 2}, {"username": "bob", "capacity": 1, "languages": ["en"]},
        {"username": "dee", "capacity": 5, "languages": ["zh-CN"]}]},
    {"code": "field", "name_zh": "外访", "name_en": "Field", "mode": "round_robin", "collectors": []}]}


@pytest.fixture
def staffed(db, tmp_path, monkeypatch):
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(TEAMS))
    monkeypatch.setenv("ARREARS_TEAMS_FILE", str(path))
    with db.session() as s:
        users = {u: auth.create_user(s, username=u, display_name=u, password=PASSWORD, role="collector",
                                     actor="t").id for u in ("ann", "bob", "cyd")}  # dee has no sign-in yet
        case = add_case(s)
        add_tasks(s, case, 4)
        s.commit()
    return {"db": db, "users": users}


def test_assignment_in_the_database_respects_capacity_and_skills(staffed):
    db, users = staffed["db"], staffed["users"]
    with db.session() as s:
        assert assign_open_tasks(s) == 2  # ann takes 2 (capacity); bob speaks only English; dee is no user
        s.commit()
    with db.session() as s:
        assert [t.assignee_user_id for t in my_queue(s, users["ann"])] == [users["ann"]] * 2
        assert my_queue(s, users["bob"]) == [] and my_queue(s, users["cyd"]) == []
        waiting = [t for t in team_queue(s, "phone") if t.assignee_user_id is None]
        assert len(waiting) == 2 and all(t.version == 1 for t in waiting)
        assert assign_open_tasks(s) == 0  # nobody has room: nothing changes


def test_reassignment_checks_team_skills_and_capacity_and_an_override_skips_them(staffed):
    db, users = staffed["db"], staffed["users"]
    with db.session() as s:
        assign_open_tasks(s)
        s.commit()
    with db.session() as s:
        mine = my_queue(s, users["ann"])
        waiting = [t for t in team_queue(s, "phone") if t.assignee_user_id is None][0]
        with pytest.raises(InvalidInput, match="not in team") as e:
            reassign(s, task_id=waiting.id, to_user_id=users["cyd"], actor="lead", expected_version=1)
        assert e.value.rule == "task.team"
        with pytest.raises(InvalidInput) as e:
            reassign(s, task_id=waiting.id, to_user_id=users["bob"], actor="lead", expected_version=1)
        assert e.value.rule == "task.skills"
        with pytest.raises(Conflict) as e:
            reassign(s, task_id=waiting.id, to_user_id=users["ann"], actor="lead", expected_version=1)
        assert e.value.rule == "task.capacity"
        with pytest.raises(Conflict) as e:
            reassign(s, task_id=mine[0].id, to_user_id=users["ann"], actor="lead", expected_version=1)
        assert e.value.rule == "task.version"
        with pytest.raises(InvalidInput) as e:
            reassign(s, task_id=waiting.id, to_user_id=users["cyd"], actor="lead", expected_version=1, override=True)
        assert e.value.rule == "task.override_reason"
        task = reassign(s, task_id=waiting.id, to_user_id=users["cyd"], actor="lead", expected_version=1,
                        override=True, reason="cyd knows the family")
        s.commit()
        assert task.assignee_user_id == users["cyd"]
    with db.session() as s:
        task = reassign(s, task_id=mine[0].id, to_user_id=users["cyd"], actor="lead", expected_version=2,
                        override=True, reason="ann is on leave")
        s.commit()
        events = s.scalars(select(Event).where(Event.subject_type == "work_task").order_by(Event.id)).all()
        assert [(e.action, e.actor, e.after["assignee_user_id"]) for e in events] == \
            [("task.override", "lead", users["cyd"]), ("task.override", "lead", users["cyd"])]
        # equal priority (no scores, nothing overdue): the newest first
        assert [t.id for t in my_queue(s, users["cyd"])] == sorted([waiting.id, mine[0].id], reverse=True)
