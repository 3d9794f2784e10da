"""The work queue as one read query: open cases a collector owns or holds an open task on (or a team's, or a
chosen collector's, for a supervisor), with the loan's end-of-day state (every case is opened by end of day, so
its loan has one), filtered, sorted and keyset-paged.

Sort columns are data (``SORTS``): a key → a SQL expression and its direction; the default is the open
task's ``priority`` (propensity × amount overdue). Paging is by keyset on (sort value, case id) — no OFFSET,
no count(*) over a million rows: the count is bounded (``COUNT_CAP``)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, and_, exists, func, or_, select, text, union
from sqlalchemy.orm import Session

from arrears.agreements.service import COLLECTION_STOPPED
from arrears.agreements.tables import Agreement
from arrears.cases.flags import OPEN_COMPLAINT
from arrears.cases.tables import BorrowerFlag, Case, PromiseToPay
from arrears.complaints.tables import Complaint
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.tables import Loan
from arrears.queues.tables import WorkTask
from arrears.web.render import bounded_count

COUNT_CAP = 200  # "more than 200 cases": the first page reads up to this many rows + 1 (a team's walk)
PAGE = 50
D = LoanDelinquency
OVERDUE = D.overdue_principal_fen + D.overdue_interest_fen + D.overdue_fee_fen + D.overdue_penalty_fen


@dataclass(frozen=True)
class Sort:
    expr: object  # a SQL expression over the query's columns
    descending: bool
    parse: object = int  # the keyset value from its text in the address


# The open task of a case the queue shows (its latest) and its priority (propensity × amount overdue,
# queues/priority.py): the collector's default order, highest first.
_TASK = (select(func.max(WorkTask.id)).where(WorkTask.case_id == Case.id, WorkTask.status == "open")
         .correlate(Case).scalar_subquery())
SORTS: dict[str, Sort] = {
    "priority": Sort(func.coalesce(select(WorkTask.priority).where(WorkTask.id == _TASK).scalar_subquery(), 0),
                     True),
    "dpd": Sort(D.dpd, True),  # an index on loan_delinquency.dpd drives a team's queue in this order
    "overdue": Sort(OVERDUE, True),
    "next_action": Sort(func.coalesce(Case.next_action_due, date(9999, 12, 31)), False, date.fromisoformat),
}
DEFAULT_SORT = next(iter(SORTS))
# A team's queue (possibly hundreds of thousands of cases) sorts only in an order an index walks.
TEAM_SORTS = ("dpd",)
FLAGS = ("complaint", "do_not_contact", "promise_due", "collection_stopped")


@dataclass(frozen=True)
class Scope:
    """Whose queue: a user's (cases owned, open tasks held) or a team's (cases of the team, its open tasks)."""

    user_id: int | None = None
    team: str | None = None


@dataclass(frozen=True)
class Filters:
    stage: str = ""
    bucket: str = ""
    product: str = ""
    flag: str = ""


def _in_scope(scope: Scope):
    """A user's few hundred cases as a set (two index scans); a team's, which may be hundreds of thousands, as a
    test per row on the days-past-due walk (``team_walk``) and this exact test on the few rows it lets through."""
    if scope.user_id is not None:
        return Case.id.in_(union(
            select(Case.id).where(Case.owner_user_id == scope.user_id, Case.status == "open"),
            select(WorkTask.case_id).where(WorkTask.assignee_user_id == scope.user_id, WorkTask.status == "open")))
    return or_(Case.team == scope.team, exists().where(WorkTask.case_id == Case.id, WorkTask.team == scope.team,
                                                        WorkTask.status == "open"))


def team_walk(team: str, filters: Filters, after_dpd: int | None = None):
    """A team's loans in days-past-due order, highest first: (loan_id, dpd) read off the index on (dpd, loan_id,
    product_code) (or (bucket, dpd, …)) alone, the team tested against two sets of loan ids hashed once.

    A team's cases often sit below other teams' in that order (the phone team's ≤ 90 days under the field
    team's): a million-case book passes over 116,000 rows before the phone team's first page. Testing those on
    the case, or reading each state row, took 0.5–2.5 s; on the index alone they cost milliseconds. ``OFFSET 0``
    keeps the walk a subquery read in order (not flattened into the join), so the page stops after its rows."""
    walk = select(D.loan_id, D.dpd).where(or_(
        D.loan_id.in_(select(Case.loan_id).where(Case.team == team, Case.status == "open")),
        D.loan_id.in_(select(WorkTask.loan_id).where(WorkTask.team == team, WorkTask.status == "open"))))
    if filters.bucket:
        walk = walk.where(D.bucket == filters.bucket)
    if filters.product:  # the loan's product, also in the index (the join tests it again on the loan)
        walk = walk.where(D.product_code == filters.product)
    if after_dpd is not None:
        walk = walk.where(D.dpd <= after_dpd)
    return walk.order_by(D.dpd.desc()).offset(0).subquery("walk")


def _flag(flag: str, today: date):
    if flag == "complaint":
        return exists().where(Complaint.borrower_id == Case.borrower_id, Complaint.status.in_(OPEN_COMPLAINT))
    if flag == "collection_stopped":  # set by hand, or an agreement in force that stops collection (cases.flags)
        return or_(exists().where(BorrowerFlag.borrower_id == Case.borrower_id,
                                  BorrowerFlag.collection_stopped.is_(True)),
                   exists().where(Agreement.borrower_id == Case.borrower_id, COLLECTION_STOPPED))
    if flag == "do_not_contact":
        return exists().where(BorrowerFlag.borrower_id == Case.borrower_id, BorrowerFlag.do_not_contact.is_(True))
    return exists().where(PromiseToPay.case_id == Case.id, PromiseToPay.status == "open", PromiseToPay.due_on <= today)


def base_query(scope: Scope, filters: Filters, today: date, walk=None) -> Select:
    """The queue's rows; a team's start from its ``walk`` (``team_walk``), joined in its order."""
    stmt = select(Case.id, Case.loan_id, Case.borrower_id, Case.stage, Case.next_action, Case.next_action_due,
                  Case.owner_user_id, Case.version, Loan.loan_no, Loan.product_code, D.dpd, D.bucket,
                  OVERDUE.label("overdue_fen"))
    if walk is not None:
        stmt = stmt.select_from(walk).join(Case, Case.loan_id == walk.c.loan_id)
    stmt = (stmt.join(Loan, Loan.id == Case.loan_id).join(D, D.loan_id == Case.loan_id)
            .where(Case.status == "open", _in_scope(scope)))
    if filters.stage:
        stmt = stmt.where(Case.stage == filters.stage)
    if filters.bucket:
        stmt = stmt.where(D.bucket == filters.bucket)
    if filters.product:
        stmt = stmt.where(Loan.product_code == filters.product)
    if filters.flag in FLAGS:
        stmt = stmt.where(_flag(filters.flag, today))
    return stmt


def _after(sort: Sort, value: object, case_id: int):
    """The keyset condition: rows after (value, case_id) in the sort's order (case id ascending breaks ties)."""
    beyond = sort.expr < value if sort.descending else sort.expr > value
    return or_(beyond, and_(sort.expr == value, Case.id > case_id))


def page(session: Session, scope: Scope, filters: Filters, today: date, *, sort: str = DEFAULT_SORT,
         after: tuple | None = None, size: int | None = None) -> tuple[list, int, tuple | None]:
    """One page of rows, the bounded count (COUNT_CAP + 1 means "more than COUNT_CAP") and the keyset of the
    next page (None on the last). The first page is read with the count in one query (up to COUNT_CAP + 1 rows:
    a team's walk is paid once); a later page counts apart."""
    s, size = SORTS.get(sort) or SORTS[DEFAULT_SORT], size or PAGE
    walk = counted = None
    if scope.team is not None:  # a team's queue: days past due only (TEAM_SORTS), walked in order
        walk = team_walk(scope.team, filters, after[0] if after is not None else None)
        counted = team_walk(scope.team, filters) if after is not None else walk
        s = Sort(walk.c.dpd, True)
    stmt = base_query(scope, filters, today, walk)
    keyed = stmt.add_columns(s.expr.label("sort_value"))
    if after is not None:
        keyed = keyed.where(_after(s, after[0], after[1]))
    order = s.expr.desc() if s.descending else s.expr.asc()
    with _nested_loops(session, walk is not None):
        if after is None:
            rows = session.execute(keyed.order_by(order, Case.id).limit(COUNT_CAP + 1)).all()
            total = len(rows)
        else:
            total = bounded_count(session, base_query(scope, filters, today, counted) if walk is not None else stmt,
                                  COUNT_CAP)
            rows = session.execute(keyed.order_by(order, Case.id).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    nxt = (rows[-1].sort_value, rows[-1].id) if more else None
    return rows, total, nxt


@contextmanager
def _nested_loops(session: Session, walking: bool):
    """On PostgreSQL, a team's walk read in its index's order and joined by nested loops only, for these queries:
    with a filter the planner may guess that reading the whole table, sorting it and hashing the join is cheaper
    (0.3–2 s for the field team's credit cards in a million-case book) where the walk in order stops after a page
    (≈ 0.08 s). The settings are put back for the rest of the transaction."""
    pg = walking and session.get_bind().dialect.name == "postgresql"
    knobs = ("enable_hashjoin", "enable_mergejoin", "enable_sort")  # an incremental sort of ties stays allowed
    if pg:
        for knob in knobs:
            session.execute(text(f"SET LOCAL {knob} = off"))
    try:
        yield
    finally:
        if pg:
            for knob in knobs:
                session.execute(text(f"SET LOCAL {knob} = on"))
