"""Work queues over HTTP: a collector's own queue, a team's queue and reassignment (supervisors)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from arrears.auth.model import Permission as P
from arrears.auth.model import Principal
from arrears.errors import InvalidInput
from arrears.queues.service import my_queue, reassign, team_queue
from arrears.queues.tables import WorkTask
from arrears.scores.api import Reason, reasons_out
from arrears.web.deps import SessionDep, require

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])


class TaskOut(BaseModel):
    id: int
    case_id: int
    loan_id: int
    business_date: date
    kind: str
    team: str
    language: str
    product_code: str
    stage: str
    rule: str
    status: str
    assignee_user_id: int | None
    assigned_at: datetime | None
    version: int
    priority: int  # expected recovery in fen: latest propensity × amount overdue (queues/priority.py)
    priority_reasons: list[Reason]  # the propensity score's top reasons (why payment is less likely)

    @staticmethod
    def of(task: WorkTask) -> TaskOut:
        plain = {f: getattr(task, f) for f in TaskOut.model_fields if f != "priority_reasons"}
        return TaskOut(**plain, priority_reasons=reasons_out(
            [c for c in task.priority_reasons.split(",") if c], "propensity"))


Limit = Annotated[int, Query(ge=1, le=500, description="Tasks per page.")]
AfterPriority = Annotated[int | None, Query(description="Keyset: `priority` of the last task of the previous page.")]
AfterId = Annotated[int | None, Query(ge=1, description="Keyset: `id` of the last task of the previous page.")]


def _after(priority: int | None, task_id: int | None) -> tuple[int, int] | None:
    if (priority is None) != (task_id is None):
        raise InvalidInput("give after_priority and after_id together", field="after_id", rule="queue.keyset")
    return None if priority is None else (priority, task_id)


class ReassignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_user_id: int
    expected_version: int
    override: bool = False  # skip the team, skills and capacity checks (reason required)
    reason: str = Field(default="", max_length=300)


@router.get("/mine", response_model=list[TaskOut])
def mine(session: SessionDep, principal: Annotated[Principal, Depends(require(P.queues_work))],
         limit: Limit = 100, after_priority: AfterPriority = None, after_id: AfterId = None) -> list[TaskOut]:
    """The signed-in user's own open tasks, and nobody else's: highest priority first, ``limit`` per page (the
    next page: ``after_priority`` and ``after_id`` of the last task shown)."""
    return [TaskOut.of(t) for t in my_queue(session, principal.user_id, limit=limit,
                                            after=_after(after_priority, after_id))]


@router.get("", response_model=list[TaskOut])
def team(session: SessionDep, principal: Annotated[Principal, Depends(require(P.queues_supervise))],
         team: Annotated[str, Query(min_length=1, max_length=40)], limit: Limit = 100,
         after_priority: AfterPriority = None, after_id: AfterId = None) -> list[TaskOut]:
    """A team's open tasks, assigned or waiting (supervisors), highest priority first, paged as ``/mine``."""
    return [TaskOut.of(t) for t in team_queue(session, team, limit=limit, after=_after(after_priority, after_id))]


@router.post("/tasks/{task_id}/reassign", response_model=TaskOut)
def reassign_task(task_id: int, body: ReassignIn, session: SessionDep,
                  principal: Annotated[Principal, Depends(require(P.queues_supervise))]) -> TaskOut:
    return TaskOut.of(reassign(session, task_id=task_id, to_user_id=body.to_user_id, actor=principal.actor,
                               expected_version=body.expected_version, override=body.override, reason=body.reason))
