"""Queue use cases: assigning open tasks in bulk (``assign_open_tasks``), reading a collector's own queue
and a team's queue (highest priority first, keyset-paged), and reassigning one task (checked against team,
skills and capacity; a supervisor's override skips skills and capacity). Reassignments append an event to the
task's chain."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from arrears.audit.service import append_event
from arrears.auth.tables import User
from arrears.db.base import utcnow
from arrears.db.bulk import fetch_arrow, update_from_arrow
from arrears.db.versioned import flush_versioned, load_versioned
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.queues.assign import collectors_table, plan
from arrears.queues.config import Collector, Teams, teams
from arrears.queues.tables import WorkTask

SUBJECT = "work_task"


def _user_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(User.username, User.id).where(User.active.is_(True))).all())


def assign_open_tasks(session: Session, *, config: Teams | None = None, now: datetime | None = None) -> int:
    """Assigns every open unassigned task that a collector of its team can take (skills, capacity); when room is
    short the highest-priority tasks are taken first."""
    config = config or teams()
    users = _user_ids(session)
    collectors = collectors_table(config, users)
    tasks = fetch_arrow(session, "SELECT id, team, language, product_code, stage, priority FROM work_tasks "
                                 "WHERE status = 'open' AND assignee_user_id IS NULL")
    if tasks.num_rows == 0 or collectors.num_rows == 0:
        return 0
    tasks = pa.table({"id": tasks.column("id").cast(pa.int64()), "priority": tasks.column("priority").cast(pa.int64()),
                      **{c: tasks.column(c).cast(pa.string()) for c in ("team", "language", "product_code", "stage")}})
    loads = fetch_arrow(session, "SELECT assignee_user_id AS user_id, count(*) AS load FROM work_tasks "
                                 "WHERE status = 'open' AND assignee_user_id IS NOT NULL GROUP BY assignee_user_id")
    last = fetch_arrow(session, "SELECT t.team, t.assignee_user_id AS user_id FROM work_tasks t WHERE t.id IN "
                                "(SELECT max(id) FROM work_tasks WHERE assignee_user_id IS NOT NULL GROUP BY team)")
    loads = pa.table({"user_id": loads.column("user_id").cast(pa.int64()), "load": loads.column("load").cast(pa.int64())}) \
        if loads.num_rows else pa.table({"user_id": pa.array([], pa.int64()), "load": pa.array([], pa.int64())})
    last = pa.table({"team": last.column("team").cast(pa.string()), "user_id": last.column("user_id").cast(pa.int64())}) \
        if last.num_rows else pa.table({"team": pa.array([], pa.string()), "user_id": pa.array([], pa.int64())})
    chosen = plan(tasks, collectors, loads, last)
    if chosen.num_rows == 0:
        return 0
    pg = session.connection().dialect.name == "postgresql"
    at = (now or utcnow()).strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if pg else "")
    stamp = f"CAST('{at}' AS TIMESTAMP WITH TIME ZONE)" if pg else f"'{at}'"
    return update_from_arrow(session, "work_tasks", chosen, key="id",
                             assignments=f"assignee_user_id = u.assignee_user_id, assigned_at = {stamp}, "
                                         "version = work_tasks.version + 1",
                             where="AND work_tasks.assignee_user_id IS NULL AND work_tasks.status = 'open'")


# Highest priority (expected recovery, queues/priority.py) first, then the newest: both descending, so the
# (assignee_user_id | team, status, priority, id) index is read backwards and a page stops after ``limit`` rows.
QUEUE_ORDER = (WorkTask.priority.desc(), WorkTask.id.desc())


def _page(query, limit: int | None, after: tuple[int, int] | None):  # noqa: ANN001, ANN202
    """Keyset paging: ``after`` is (priority, id) of the last task already shown; the next ``limit`` follow."""
    if after is not None:
        query = query.where(tuple_(WorkTask.priority, WorkTask.id) < tuple_(*after))
    if limit is not None:
        if limit < 1:
            raise InvalidInput("must be at least 1", field="limit", rule="queue.limit")
        query = query.limit(limit)
    return query.order_by(*QUEUE_ORDER)


def my_queue(session: Session, user_id: int, *, limit: int | None = None,
             after: tuple[int, int] | None = None) -> list[WorkTask]:
    """A collector's own open tasks (nobody else's), highest priority first (all of them unless ``limit``)."""
    return list(session.scalars(_page(select(WorkTask).where(WorkTask.assignee_user_id == user_id,
                                                             WorkTask.status == "open"), limit, after)))


def team_queue(session: Session, team: str, *, config: Teams | None = None, limit: int | None = None,
               after: tuple[int, int] | None = None) -> list[WorkTask]:
    """A team's open tasks, assigned or waiting, highest priority first (all of them unless ``limit``)."""
    config = config or teams()
    if team not in config.codes:
        raise NotFound(f"no team {team!r}; teams: {list(config.codes)}", field="team", rule="queue.team")
    return list(session.scalars(_page(select(WorkTask).where(WorkTask.team == team, WorkTask.status == "open"),
                                      limit, after)))


def _covers(c: Collector, task: WorkTask) -> bool:
    return ((not c.languages or task.language in c.languages) and (not c.products or task.product_code in c.products)
            and (not c.stages or task.stage in c.stages))


def reassign(session: Session, *, task_id: int, to_user_id: int, actor: str, expected_version: int,
             override: bool = False, reason: str = "", config: Teams | None = None) -> WorkTask:
    """Gives an open task to another collector of its team whose skills cover it and who has room; with
    ``override`` (a supervisor's decision, reason required) any active user may be given it."""
    config = config or teams()
    task = load_versioned(session, WorkTask, task_id, expected_version, "task")
    if task.status != "open":
        raise Conflict(f"task {task_id} is {task.status}", field="task_id", rule="task.open")
    user = session.get(User, to_user_id)
    if user is None or not user.active:
        raise NotFound(f"no active user {to_user_id}", field="to_user_id", rule="user.exists")
    if override and not reason.strip():
        raise InvalidInput("an override needs a reason", field="reason", rule="task.override_reason")
    if not override:
        member = next((c for c in config.team(task.team).collectors if c.username == user.username), None)
        if member is None:
            raise InvalidInput(f"{user.username} is not in team {task.team}", field="to_user_id", rule="task.team")
        if not _covers(member, task):
            raise InvalidInput(f"{user.username}'s skills do not cover this task ({task.language}, "
                               f"{task.product_code}, {task.stage})", field="to_user_id", rule="task.skills")
        load = session.scalar(select(func.count()).select_from(WorkTask).where(
            WorkTask.assignee_user_id == user.id, WorkTask.status == "open", WorkTask.id != task.id))
        if load >= member.capacity:
            raise Conflict(f"{user.username} holds {load} open tasks, the capacity is {member.capacity}",
                           field="to_user_id", rule="task.capacity")
    before = {"assignee_user_id": task.assignee_user_id}
    task.assignee_user_id, task.assigned_at = user.id, utcnow()
    flush_versioned(session, "task")
    append_event(session, actor=actor, action="task.override" if override else "task.reassigned",
                 subject_type=SUBJECT, subject_id=task.id, borrower_id=task.borrower_id, before=before,
                 after={"assignee_user_id": user.id, "override": override}, reason=reason)
    return task
