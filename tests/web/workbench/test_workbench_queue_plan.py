"""A team's queue (hundreds of thousands of cases at scale) is read through indexes, the team tested on the loan
against two sets built once: on PostgreSQL by walking days past due in order (no sort of the whole team) with the
sets hashed, never a lookup per row passed over; on SQLite (the demo) with every table searched by an index."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, text

from arrears.cases.tables import Case
from arrears.delinquency.tables import LoanDelinquency
from arrears.loans.tables import Borrower, Loan
from arrears.queues.tables import WorkTask
from arrears.web.workbench import queue_query as q

pytestmark = pytest.mark.business_date("2026-03-10")
N = 4000  # open cases: the phone team's (≤ 90 days past due) sit below the field team's in days-past-due order
TODAY = date(2026, 3, 10)


@pytest.fixture
def book(db):
    """N open cases with their loans, states and one open task each, and the planner's statistics."""
    now = datetime(2026, 3, 10, tzinfo=UTC)
    dpd = [1 + (i * 7919) % 400 for i in range(1, N + 1)]
    team = ["phone" if d <= 90 else "field" for d in dpd]
    rows = range(1, N + 1)
    with db.session() as s:
        s.execute(insert(Borrower), [
            {"id": i, "borrower_no": f"B{i}", "name_enc": b"x", "id_number_enc": b"x", "id_number_digest": f"i{i}",
             "phone_enc": b"x", "phone_digest": f"p{i}", "region_code": "", "timezone": "Asia/Shanghai",
             "language": "zh-CN", "created_at": now} for i in rows])
        s.execute(insert(Loan), [
            {"id": i, "loan_no": f"L{i}", "borrower_id": i, "product_code": P[i % 5], "principal_fen": 100_000,
             "repayment_method": "equal_instalment", "annual_rate": Decimal("0.1"), "term": 12,
             "disbursed_on": date(2025, 1, 1), "first_due_on": date(2025, 2, 1), "status": "active", "credit_fen": 0,
             "restructured": False, "version": 1, "created_at": now} for i in rows])
        s.execute(insert(LoanDelinquency), [
            {"loan_id": i, "borrower_id": i, "business_date": TODAY, "product_code": P[i % 5], "dpd": dpd[i - 1],
             "overdue_principal_fen": 1000, "overdue_interest_fen": 0, "overdue_fee_fen": 0, "overdue_penalty_fen": 0,
             "penalty_due_fen": 0, "outstanding_principal_fen": 1000, "total_outstanding_fen": 1000,
             "bucket": f"M{min(7, 1 + (dpd[i - 1] - 1) // 30)}", "tier": "x", "m_bucket": "x", "classification": "x",
             "in_observation": False, "fully_paid": False} for i in rows])
        s.execute(insert(Case), [
            {"id": i, "loan_id": i, "borrower_id": i, "stage": "phone" if team[i - 1] == "phone" else "field_visit",
             "status": "open", "opened_on": TODAY, "team": team[i - 1], "next_action": "", "version": 1,
             "created_at": now} for i in rows])
        s.execute(insert(WorkTask), [
            {"id": i, "case_id": i, "loan_id": i, "borrower_id": i, "business_date": TODAY, "kind": "call",
             "team": team[i - 1], "language": "zh-CN", "product_code": P[i % 5], "stage": "phone", "rule": "r",
             "status": "open", "priority": i, "version": 1, "created_at": now} for i in rows])
        s.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:  # the planner's statistics,
        c.execute(text("VACUUM ANALYZE" if db.backend == "postgresql" else "ANALYZE"))  # visibility (EOD + autovacuum)


P = ("consumer_loan", "inclusive_loan", "internet_loan", "micro_business_loan", "credit_card")


def _plan(s, filters: q.Filters) -> str:
    """The plan of the first page's query as ``queue_query.page`` runs it (its walk, its join settings)."""
    walk = q.team_walk("phone", filters)
    stmt = q.base_query(q.Scope(team="phone"), filters, TODAY, walk).add_columns(walk.c.dpd.label("v")) \
        .order_by(walk.c.dpd.desc(), q.Case.id).limit(q.COUNT_CAP + 1)
    if s.get_bind().dialect.name == "sqlite":  # (its LIMIT -1 OFFSET 0 stays a parameter)
        sql = stmt.compile(s.get_bind())
        rows = s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + str(sql),
                                              tuple(sql.params[k] for k in sql.positiontup))
        return " | ".join(str(r[-1]) for r in rows)
    sql = str(stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
    s.execute(text("SET LOCAL enable_seqscan = off"))  # a 4,000-case book would be read whole: ask for indexes
    with q._nested_loops(s, True):
        return " | ".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))


@pytest.mark.parametrize(("filters", "index"), [
    (q.Filters(), "ix_loan_delinquency_dpd"), (q.Filters(stage="phone", product="consumer_loan"), "ix_loan_delinquency_dpd"),
    (q.Filters(bucket="M2", product="consumer_loan"), "ix_loan_delinquency_bucket")], ids=["all", "stage", "bucket"])
def test_a_team_queue_walks_an_index_in_order(book, db, filters, index):
    with db.session() as s:
        plan = _plan(s, filters)
    if db.backend == "sqlite":  # every table searched through an index, the team's loans listed once
        assert "LIST SUBQUERY" in plan and not re.search(r"(^| )SCAN (?!walk)", plan), plan
        return
    # the walk reads the index in order (alone once vacuumed), the team's loan ids hashed once (never a lookup
    # per row passed over) …
    assert f"Scan Backward using {index}" in plan and "hashed SubPlan" in plan, plan
    assert "Hash Join" not in plan, plan  # … no hash join of the walk, that would need a sort of it all
    if index.endswith("_dpd"):  # and no sort of the whole team (ties on case id only)
        assert not re.search(r"(^|->  )Sort  \(", plan.replace(" | ", "\n"), re.MULTILINE), plan
