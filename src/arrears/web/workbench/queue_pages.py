"""/work — the signed-in collector's queue (a supervisor picks a team or a collector) — and /work/team, the
supervisor's view of each team's load with reassignment of a task (``queues.service.reassign``, with override)
or of a case (``cases.service.assign``), each under the version the supervisor saw."""

from __future__ import annotations

from collections import Counter
from decimal import InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arrears.auth.model import SELF_SCOPED_ROLES, Permission, Principal, Role, permissions_for
from arrears.auth.tables import User
from arrears.cases import service as cases_service
from arrears.cases.flags import flags_for
from arrears.cases.model import lifecycle
from arrears.cases.tables import Case, PromiseToPay
from arrears.errors import Problem
from arrears.ledger.service import savepoint
from arrears.products.catalog import catalog
from arrears.queues import service as queues
from arrears.queues.config import teams
from arrears.queues.tables import WorkTask
from arrears.web.deps import SessionDep, Today
from arrears.web.render import render, staff_gate
from arrears.web.workbench import queue_query as q

router = APIRouter(include_in_schema=False)
# Who may be given a task: staff who work queues (never a borrower's portal account, of which there may be many).
WORKERS = tuple(r.value for r in Role if Permission.queues_work in permissions_for(r) and r not in SELF_SCOPED_ROLES)


def _keyset(sort: str, text: str) -> tuple | None:
    """``after=<value>~<case id>`` from the address, parsed with the sort's type; anything else: first page."""
    value, _, case_id = text.rpartition("~")
    if not value or not case_id.isdigit():
        return None
    try:
        return (q.SORTS[sort].parse(value), int(case_id))
    except (ValueError, InvalidOperation, ArithmeticError):
        return None


def _collectors(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True), User.role == "collector")
                                .order_by(User.username)))


@router.get("/work", response_class=HTMLResponse)
def my_work(request: Request, session: SessionDep, today: Today, sort: str = "", stage: str = "", bucket: str = "",
            product: str = "", flag: str = "", team: str = "", collector: str = "", after: str = "") -> Response:
    me, refused = staff_gate(request, session, Permission.cases_read)
    if refused is not None:
        return refused
    supervisor = me.can(Permission.queues_supervise)
    scope = q.Scope(user_id=me.user_id)
    if supervisor and collector.isdigit():
        scope = q.Scope(user_id=int(collector))
    elif supervisor and team in teams().codes:
        scope = q.Scope(team=team)
    sorts = list(q.TEAM_SORTS if scope.team else q.SORTS)
    sort = sort if sort in sorts else sorts[0]
    filters = q.Filters(stage=stage, bucket=bucket, product=product, flag=flag if flag in q.FLAGS else "")
    rows, total, nxt = q.page(session, scope, filters, today, sort=sort, after=_keyset(sort, after))
    flags = flags_for(session, [r.borrower_id for r in rows])
    due = set(session.scalars(select(PromiseToPay.case_id).where(
        PromiseToPay.case_id.in_([r.id for r in rows]), PromiseToPay.status == "open", PromiseToPay.due_on <= today)))
    params = {"sort": sort, "stage": stage, "bucket": bucket, "product": product, "flag": filters.flag,
              "team": team if scope.team else "", "collector": collector if scope.user_id != me.user_id else ""}
    cat = catalog()
    return render(request, "workbench/queue.html", me, rows=rows, total=total, cap=q.COUNT_CAP, flags=flags,
                  promise_due=due, params=params, sorts=sorts, flag_codes=q.FLAGS,
                  next_after=None if nxt is None else f"{nxt[0]}~{nxt[1]}", first_page=not after,
                  stages=lifecycle().stages, stage_names={s.code: s for s in lifecycle().stages},
                  products=cat.products,
                  buckets=sorted({lv.code: lv for s in cat.buckets.values() for lv in s.levels}.values(),
                                 key=lambda lv: lv.code),
                  supervisor=supervisor, teams=teams().teams, collectors=_collectors(session) if supervisor else [],
                  scope=scope, today=today)


@router.get("/work/team", response_class=HTMLResponse)
def team_work(request: Request, session: SessionDep, team: str = "") -> Response:
    me, refused = staff_gate(request, session, Permission.queues_supervise)
    if refused is not None:
        return refused
    return _team_page(request, session, me, team)


def _team_page(request: Request, session: Session, me: Principal, team: str, *, status: int = 200,
               errors: dict | None = None, values: dict | None = None) -> Response:
    config = teams()
    team = team if team in config.codes else config.codes[0]
    loads = Counter(dict(session.execute(select(WorkTask.assignee_user_id, func.count()).where(
        WorkTask.team == team, WorkTask.status == "open").group_by(WorkTask.assignee_user_id)).all()))
    users = {u.username: u for u in session.scalars(select(User).where(User.active.is_(True), User.role.in_(WORKERS)))}
    members = [(c, users.get(c.username), loads.get(users[c.username].id, 0) if c.username in users else 0)
               for c in config.team(team).collectors]
    tasks = session.execute(select(WorkTask, Case.version.label("case_version"), Case.owner_user_id)
                            .join(Case, Case.id == WorkTask.case_id)
                            .where(WorkTask.team == team, WorkTask.status == "open")
                            .order_by(WorkTask.id).limit(100)).all()
    names = {u.id: u for u in users.values()}
    return render(request, "workbench/team.html", me, status=status, team=config.team(team), teams=config.teams,
                  members=members, waiting=loads.get(None, 0), tasks=tasks, names=names,
                  assignable=sorted(users.values(), key=lambda u: u.username), errors=errors or {},
                  values=values or {})


def _assignee(session: Session, to_user: str, to_user_id: str) -> int | None:
    """The person a task goes to: the username typed or picked from the page's one list (``to_user``), or an id
    (``to_user_id``, as forms posted before the list); None when neither names an active user who works queues."""
    if to_user_id.isdigit():
        return int(to_user_id)
    name = to_user.strip().lower()
    if not name:
        return None
    return session.scalar(select(User.id).where(User.username == name, User.active.is_(True),
                                                User.role.in_(WORKERS)))


@router.post("/work/team/tasks/{task_id}/reassign", response_class=HTMLResponse)
def reassign_task(task_id: int, request: Request, session: SessionDep, team: Annotated[str, Form()] = "",
                  to_user: Annotated[str, Form()] = "", to_user_id: Annotated[str, Form()] = "",
                  version: Annotated[str, Form()] = "", override: Annotated[str, Form()] = "",
                  reason: Annotated[str, Form()] = "") -> Response:
    me, refused = staff_gate(request, session, Permission.queues_supervise)
    if refused is not None:
        return refused
    user_id = _assignee(session, to_user, to_user_id)
    values = {"to_user": to_user.strip()[:60] or _username(session, user_id), "override": bool(override),
              "reason": reason}
    if user_id is None or not version.isdigit():
        errors = {"form": "task.version"} if user_id is not None else \
            {"to_user": "task.unknown_user" if to_user.strip() else "required"}
        return _team_page(request, session, me, team, status=400, errors={task_id: errors},
                          values={task_id: values})
    try:
        with savepoint(session):
            queues.reassign(session, task_id=task_id, to_user_id=user_id, actor=me.actor,
                            expected_version=int(version), override=bool(override), reason=reason)
    except Problem as exc:
        session.expire_all()
        return _team_page(request, session, me, team, status=409 if exc.status == 409 else 400,
                          errors={task_id: {exc.field or "form": exc.rule or "invalid"}}, values={task_id: values})
    return RedirectResponse(f"/work/team?team={team}&done=reassigned", status_code=303)


def _username(session: Session, user_id: int | None) -> str:
    return "" if user_id is None else session.scalar(select(User.username).where(User.id == user_id)) or ""


@router.post("/work/team/cases/{case_id}/assign", response_class=HTMLResponse)
def assign_case(case_id: int, request: Request, session: SessionDep, team: Annotated[str, Form()] = "",
                to_user_id: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "") -> Response:
    """The case's owner (cases.service.assign, needs cases:manage), under the case's version."""
    me, refused = staff_gate(request, session, Permission.cases_manage)
    if refused is not None:
        return refused
    key = f"case-{case_id}"
    if not to_user_id.isdigit() or not version.isdigit():
        return _team_page(request, session, me, team, status=400, errors={key: {"to_user_id": "required"}})
    try:
        with savepoint(session):
            case = session.get(Case, case_id)
            cases_service.assign(session, case_id=case_id, owner_user_id=int(to_user_id),
                                 team=case.team if case else None, actor=me.actor, expected_version=int(version))
    except Problem as exc:
        session.expire_all()
        return _team_page(request, session, me, team, status=409 if exc.status == 409 else 400,
                          errors={key: {exc.field or "form": exc.rule or "invalid"}})
    return RedirectResponse(f"/work/team?team={team}&done=assigned", status_code=303)

