"""Times the workbench queue query (``queue_query.page``) on PostgreSQL with N open cases:

    python -m arrears.web.workbench.bench 1000000      # ARREARS_BENCH_PG_URL, default the test database

Synthetic rows (foreign-key triggers off through ``session_replication_role``, so a superuser connection) in a
private schema dropped at the end: N loans with an end-of-day state, N open cases (the first 200,000 owned by
1,000 collectors, 200 each; all in three teams) and one open task per case. Prints median and p95 per query."""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from arrears.db.engine import make_engine
from arrears.db.models import metadata
from arrears.web.workbench import queue_query as q

SCHEMA = "wb_perf_bench"
TODAY = date(2026, 11, 20)
TEAMS = "(ARRAY['phone','field','legal'])[1 + i % 3]"
OWNER = "CASE WHEN i <= 200000 THEN 1 + (i - 1) / 200 END"


def load(engine: Engine, n: int) -> None:
    with engine.begin() as c:
        c.execute(text("SET session_replication_role = replica"))
        c.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, active, created_at) "
                       "SELECT i, 'u' || i, 'u' || i, 'x', 'collector', true, now() FROM generate_series(1, 5000) i"))
        c.execute(text(f"""INSERT INTO loans (id, loan_no, borrower_id, product_code, repayment_method, principal_fen,
            annual_rate, term, disbursed_on, first_due_on, status, credit_fen, restructured, version, created_at)
            SELECT i, 'L' || lpad(i::text, 9, '0'), i, (ARRAY['consumer_loan','inclusive_loan','internet_loan',
            'micro_business_loan','credit_card'])[1 + i % 5], 'equal_instalment', 1000000, '0.12', 12,
            DATE '2025-01-01', DATE '2025-02-01', 'active', 0, false, 1, now() FROM generate_series(1, {n}) i"""))
        c.execute(text(f"""INSERT INTO loan_delinquency (loan_id, borrower_id, business_date, product_code, dpd,
            overdue_principal_fen, overdue_interest_fen, overdue_fee_fen, overdue_penalty_fen, penalty_due_fen,
            outstanding_principal_fen, total_outstanding_fen, bucket, tier, m_bucket, classification,
            in_observation, fully_paid)
            SELECT i, i, DATE '2026-11-20', 'consumer_loan', 1 + (i::bigint * 7919) % 400,
            (i::bigint * 104729) % 5000000, 100, 0, 50, 0, 1000000, 1000000, 'M' || (1 + (i::bigint * 7919) % 7),
            'x', 'x', 'substandard', false, false FROM generate_series(1, {n}) i"""))
        c.execute(text(f"""INSERT INTO cases (id, loan_id, borrower_id, stage, status, opened_on, owner_user_id,
            team, next_action, next_action_due, version, created_at)
            SELECT i, i, i, (ARRAY['reminder','phone','field_visit','legal'])[1 + i % 4], 'open', DATE '2026-10-01',
            {OWNER}, {TEAMS}, 'call', DATE '2026-11-20' + (i % 30), 1, now() FROM generate_series(1, {n}) i"""))
        c.execute(text(f"""INSERT INTO work_tasks (id, case_id, loan_id, borrower_id, business_date, kind, team,
            language, product_code, stage, rule, status, assignee_user_id, version, created_at)
            SELECT i, i, i, i, DATE '2026-11-20', 'call', {TEAMS}, 'zh-CN', 'consumer_loan', 'phone', 'r', 'open',
            {OWNER}, 1, now() FROM generate_series(1, {n}) i"""))
    with engine.begin() as c:
        c.execute(text("ANALYZE"))


def timed(engine: Engine, label: str, scope: q.Scope, filters: q.Filters | None = None, sort: str = "dpd",
          runs: int = 15) -> None:
    """Alternates the first page and the next one (keyset), ``runs`` times."""
    times, after = [], None
    with Session(engine) as s:
        for k in range(runs):
            start = time.perf_counter()
            rows, total, nxt = q.page(s, scope, filters or q.Filters(), TODAY, sort=sort,
                                      after=after if k % 2 else None)
            times.append((time.perf_counter() - start) * 1000)
            after = nxt
    times.sort()
    print(f"{label:50s} rows={len(rows):3d} count={total:5d} median={statistics.median(times):7.1f} ms "
          f"p95={times[int(0.95 * (len(times) - 1))]:7.1f} ms")


def main(n: int) -> None:
    base = os.environ.get("ARREARS_BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")
    admin = make_engine(base)
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    engine = make_engine(f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{SCHEMA}")
    try:
        metadata.create_all(engine)
        start = time.perf_counter()
        load(engine, n)
        print(f"loaded {n} cases in {time.perf_counter() - start:.1f} s")
        timed(engine, "collector 7 (200 owned, 200 tasks), by dpd", q.Scope(user_id=7))
        timed(engine, "collector 7, by amount overdue, stage=phone", q.Scope(user_id=7), q.Filters(stage="phone"),
              "overdue")
        timed(engine, "collector 7, flag=complaint", q.Scope(user_id=7), q.Filters(flag="complaint"))
        timed(engine, "collector 4000 (no cases)", q.Scope(user_id=4000))
        timed(engine, "collector 999, by amount overdue", q.Scope(user_id=999), sort="overdue")
        timed(engine, "team phone (a third of the cases), by dpd", q.Scope(team="phone"), runs=7)
        timed(engine, "team phone, bucket M3, product credit_card", q.Scope(team="phone"),
              q.Filters(bucket="M3", product="credit_card"), runs=7)
    finally:
        engine.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
