"""``arrears bench web``: page render times with 1,000,000 cases in PostgreSQL, and on the demo database.

The big book is built set-based in DuckDB and COPied into a dedicated schema (``bench_web`` by default, kept for
``--reuse``): borrowers, loans, their end-of-day states and the day's Parquet snapshot, one collection case per
loan (open while overdue), work tasks for the open cases, some events, and the dashboards' aggregates — the day's
from ``reports.aggregate.aggregate_day`` on the snapshot (timed), a year of history by shifting that day's rows.
Instalments are loaded for the first ``SCHEDULED`` loans and every overdue one (the pages read one loan's
instalments by index; the loan pages are sampled among the first). ``web_book`` adds what the other pages list. Each page of ``PAGES`` is then requested through the app's TestClient,
signed in as its role, and its p95 reported."""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import duckdb
from sqlalchemy import text

from arrears.bench import web_book
from arrears.bench.common import stopwatch

# (name, role, path): {loan_id} a sampled loan with a schedule, {case_id} a sampled open case, {loan_no} a sampled
# loan number, {own_loan} the portal borrower's overdue loan, {year_ago}/{end} a year before the business date and
# the business date, other {…_id} ids sampled by SAMPLES, {after} the keyset of the page's second page (read from
# the first page's "next" link). A page whose samples are empty on a database (the demo has no legal cases, say)
# is skipped there and reported as null.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("loans", "supervisor", "/loans"),
    ("loans_product", "supervisor", "/loans?product=consumer_loan&page=3"),
    ("loans_search", "supervisor", "/loans?q={loan_no}"),
    ("loan", "supervisor", "/loans/{loan_id}"),
    ("dashboards", "supervisor", "/dashboards"),
    ("dashboards_product", "compliance", "/dashboards?product=consumer_loan"),
    ("dashboards_team", "supervisor", "/dashboards?team=phone"),
    ("dashboards_year", "supervisor", "/dashboards?start={year_ago}&end={end}"),
    ("dashboards_xlsx", "supervisor", "/dashboards/export.xlsx"),
    ("work", "collector", "/work"),
    ("work_dpd", "collector", "/work?sort=dpd"),
    ("work_next", "collector", "/work?after={after}"),
    ("work_filtered", "collector", "/work?sort=overdue&bucket=M2&product=consumer_loan"),
    ("work_flag", "collector", "/work?flag=promise_due"),
    ("work_team_queue", "supervisor", "/work?team=phone&sort=dpd"),
    ("work_team_queue_next", "supervisor", "/work?team=phone&sort=dpd&after={after}"),
    ("work_team_filtered", "supervisor", "/work?team=phone&sort=dpd&bucket=M2&product=consumer_loan"),
    ("work_team_stage", "supervisor", "/work?team=field&sort=dpd&stage=field_visit&product=credit_card"),
    ("work_team", "supervisor", "/work/team"),
    ("work_team_field", "supervisor", "/work/team?team=field"),
    ("case", "supervisor", "/cases/{case_id}"),
    ("case_collector", "collector", "/cases/{my_case_id}"),
    ("negotiations", "negotiator", "/negotiations"),
    ("negotiations_agreed", "negotiator", "/negotiations?status=agreed"),
    ("negotiation", "negotiator", "/negotiations/{negotiation_id}"),
    ("approvals", "supervisor", "/approvals"),
    ("complaints", "supervisor", "/complaints"),
    ("complaints_open", "supervisor", "/complaints?status=open&period=90"),
    ("complaint", "supervisor", "/complaints/{complaint_id}"),
    ("complaint_stats", "supervisor", "/complaints/stats"),
    ("legal", "legal", "/legal"),
    ("legal_filed", "legal", "/legal?phase=filed&page=2"),
    ("legal_case", "legal", "/legal/{legal_case_id}"),
    ("writeoffs", "supervisor", "/writeoffs"),
    ("writeoff", "supervisor", "/writeoffs/{batch_id}?page=3"),
    ("transfer", "supervisor", "/transfers/{package_id}"),
    ("objections", "supervisor", "/credit/objections"),
    ("objections_open", "supervisor", "/credit/objections?status=open"),
    ("objection", "supervisor", "/credit/objections/{objection_id}"),
    ("portal", "borrower", "/portal"),
    ("portal_loan", "borrower", "/portal/loans/{own_loan}"),
    ("portal_plans", "borrower", "/portal/loans/{own_loan}/plans"),
    ("portal_messages", "borrower", "/portal/messages"),
    ("portal_complaints", "borrower", "/portal/complaints"),
)
# Ids the pages are requested with, sampled from the database measured.
SAMPLES = {
    "case_id": "SELECT id FROM cases WHERE status = 'open' ORDER BY id LIMIT 2000",
    "my_case_id": "SELECT c.id FROM cases c JOIN users u ON u.id = c.owner_user_id WHERE u.username = :collector "
                  "AND c.status = 'open' ORDER BY c.id LIMIT 500",
    "negotiation_id": "SELECT id FROM negotiations WHERE status = 'open' ORDER BY id LIMIT 500",
    "complaint_id": "SELECT id FROM complaints ORDER BY id LIMIT 2000",
    "legal_case_id": "SELECT id FROM legal_cases WHERE status = 'open' ORDER BY id LIMIT 2000",
    "batch_id": "SELECT id FROM writeoff_batches WHERE loans > 100 ORDER BY id LIMIT 50",
    "package_id": "SELECT id FROM transfer_packages ORDER BY id LIMIT 50",
    "objection_id": "SELECT id FROM credit_objections ORDER BY id LIMIT 2000",
    "loan_no": "SELECT loan_no FROM loans WHERE id % 487 = 0 ORDER BY id LIMIT 2000",
}
ROLES = ("supervisor", "compliance", "collector", "negotiator", "legal")
PASSWORD = "bench-web-password"
SCHEDULED = 20_000  # loans given instalments (besides the overdue ones)
COLLECTORS = 300  # own a third of the open cases
HISTORY_DAYS = 365
SCHEMA = "bench_web"
_PRODUCTS = "['consumer_loan', 'inclusive_loan', 'internet_loan', 'micro_business_loan', 'credit_card']"
M_BUCKET = """CASE WHEN dpd = 0 THEN 'M0' WHEN dpd <= 30 THEN 'M1' WHEN dpd <= 60 THEN 'M2' WHEN dpd <= 90 THEN 'M3'
               WHEN dpd <= 120 THEN 'M4' WHEN dpd <= 150 THEN 'M5' WHEN dpd <= 180 THEN 'M6' ELSE 'M7' END"""
SEED3 = """CASE WHEN dpd = 0 THEN 'current' WHEN dpd <= 30 THEN 'mild' WHEN dpd <= 60 THEN 'moderate'
             ELSE 'severe' END"""
CLASS = """CASE WHEN dpd = 0 THEN 'normal' WHEN dpd <= 90 THEN 'special_mention' WHEN dpd <= 270 THEN 'substandard'
             WHEN dpd <= 360 THEN 'doubtful' ELSE 'loss' END"""


def _generate(con: duckdb.DuckDBPyConnection, n: int, d: date) -> None:
    """w_loans: one row per loan with its state on ``d`` (about 15 % overdue, 1–400 days)."""
    con.execute(f"""
        CREATE OR REPLACE TABLE w_loans AS
        SELECT i::BIGINT AS loan_id, (i + 1) // 2 AS borrower_id, {_PRODUCTS}[1 + (hash(i) % 5)::INT] AS product_code,
               (1000 + hash(i * 7) % 200000) * 100 AS principal_fen, 6 + (hash(i * 11) % 19)::INT AS term,
               CAST(DATE '{d}' - INTERVAL 30 DAY * (2 + (hash(i * 13) % 16)::INT) AS DATE) AS disbursed_on,
               CASE WHEN hash(i * 19) % 100 < 85 THEN 0 ELSE 1 + (hash(i * 29) % 400)::INT END AS dpd
        FROM range(1, {n} + 1) t(i)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE w_states AS
        SELECT DATE '{d}' AS business_date, loan_id, borrower_id, product_code, dpd::INTEGER AS dpd,
               (principal_fen // term * least(dpd // 30 + (dpd > 0)::INT, term))::BIGINT AS overdue_principal_fen,
               (principal_fen * 5 // 1000 * (dpd > 0)::INT)::BIGINT AS overdue_interest_fen, 0::BIGINT AS overdue_fee_fen,
               (principal_fen * dpd // 20000)::BIGINT AS overdue_penalty_fen,
               (principal_fen * dpd // 20000)::BIGINT AS penalty_due_fen,
               (principal_fen * 2 // 3)::BIGINT AS outstanding_principal_fen,
               (principal_fen * 2 // 3 + principal_fen * dpd // 20000)::BIGINT AS total_outstanding_fen,
               CASE WHEN product_code IN ('inclusive_loan', 'internet_loan') THEN {SEED3} ELSE {M_BUCKET} END AS bucket,
               {SEED3} AS tier, {M_BUCKET} AS m_bucket, {CLASS} AS classification,
               FALSE AS in_observation, FALSE AS fully_paid
        FROM w_loans ORDER BY loan_id""")


def _copy(con: duckdb.DuckDBPyConnection, factory, table: str, query: str, batch: int = 500_000) -> None:
    from arrears.db.bulk import insert_arrow
    from arrears.db.engine import unit_of_work

    con.execute(f"CREATE OR REPLACE TEMP TABLE w_out AS {query}")
    (rows,), = con.sql("SELECT count(*) FROM w_out").fetchall()
    for offset in range(0, rows, batch):
        part = con.sql(f"SELECT * FROM w_out LIMIT {batch} OFFSET {offset}").to_arrow_table()
        with unit_of_work(factory) as session:
            insert_arrow(session, table, part)


def _build(url: str, n: int, d: date, data_dir: Path, cipher, say) -> dict:
    """The big book in ``url``'s schema (created fresh); returns build figures."""
    from arrears.auth.service import create_user
    from arrears.db.engine import make_engine, make_session_factory, unit_of_work
    from arrears.db.models import metadata
    from arrears.delinquency.model import SNAPSHOT, conform
    from arrears.delinquency.snapshots import SnapshotStore
    from arrears.reports.aggregate import aggregate_day

    figures: dict = {}
    engine = make_engine(url)
    metadata.create_all(engine)
    factory = make_session_factory(engine)
    con = duckdb.connect()
    now = datetime.now(UTC)
    ts = f"TIMESTAMPTZ '{now.isoformat()}'"
    with stopwatch(figures, "generate_s"):
        _generate(con, n, d)
    name, ident, phone = (cipher.encrypt(v).hex() for v in ("王小明", "110101199003076632", "13800000001"))
    with stopwatch(figures, "copy_s"):
        say("borrowers, loans, states …")
        _copy(con, factory, "borrowers", f"""
            SELECT DISTINCT borrower_id AS id, 'B' || borrower_id AS borrower_no, from_hex('{name}') AS name_enc,
                   from_hex('{ident}') AS id_number_enc, md5('i' || borrower_id) AS id_number_digest,
                   from_hex('{phone}') AS phone_enc, md5('p' || borrower_id) AS phone_digest, '' AS region_code,
                   'Asia/Shanghai' AS timezone, 'zh-CN' AS language, {ts} AS created_at FROM w_loans ORDER BY 1""")
        _copy(con, factory, "loans", f"""
            SELECT loan_id AS id, 'L' || loan_id AS loan_no, borrower_id, product_code,
                   'equal_principal' AS repayment_method, principal_fen, '0.0435' AS annual_rate, term, disbursed_on,
                   CAST(disbursed_on + INTERVAL 1 MONTH AS DATE) AS first_due_on, 'active' AS status,
                   0::BIGINT AS credit_fen, FALSE AS restructured, 1 AS version, {ts} AS created_at FROM w_loans""")
        _copy(con, factory, "instalments", f"""
            SELECT l.loan_id * 64 + s.seq AS id, l.loan_id, l.borrower_id, s.seq::INT AS seq,
                   CAST(l.disbursed_on + INTERVAL 1 MONTH * s.seq AS DATE) AS due_on,
                   l.principal_fen // l.term AS principal_due_fen, l.principal_fen * 5 // 1000 AS interest_due_fen
            FROM w_loans l, range(1, l.term + 1) s(seq) WHERE l.loan_id <= {SCHEDULED} OR l.dpd > 0""")
        _copy(con, factory, "loan_delinquency", "SELECT * EXCLUDE (business_date), business_date FROM w_states")
    with unit_of_work(factory) as session:
        for role in ROLES:
            create_user(session, username=f"bench_{role}", display_name=role, password=PASSWORD, role=role,
                        actor="bench", team="phone" if role == "collector" else None)
        create_user(session, username="bench_borrower", display_name="王小明", password=PASSWORD, role="borrower",
                    actor="bench", borrower_id=web_book.portal_borrower(con, SCHEDULED))
        users = dict(session.execute(text("SELECT role, id FROM users WHERE username LIKE 'bench_%'")).all())
        collector = users["collector"]
    # The other collectors (no sign-in): a third of the open cases are owned and their tasks held, spread
    # over COLLECTORS people (a collector works a few hundred cases), bench_collector being one of them.
    _copy(con, factory, "users", f"""
        SELECT 1000 + k AS id, 'bench_c' || k AS username, 'c' || k AS display_name, 'x' AS password_hash,
               'collector' AS role, CASE WHEN k % 2 = 0 THEN 'phone' ELSE 'field' END AS team,
               NULL::BIGINT AS borrower_id, TRUE AS active, {ts} AS created_at FROM range(1, {COLLECTORS}) r(k)""")
    owner = f"CASE WHEN (loan_id // 3) % {COLLECTORS} = 0 THEN {collector} ELSE 1000 + (loan_id // 3) % {COLLECTORS} END"
    with stopwatch(figures, "cases_s"):
        say("cases, work tasks, events …")
        _copy(con, factory, "cases", f"""
            SELECT loan_id AS id, loan_id, borrower_id,
                   CASE WHEN dpd = 0 THEN 'reminder' WHEN dpd <= 30 THEN 'reminder' WHEN dpd <= 90 THEN 'phone'
                        ELSE 'field_visit' END AS stage,
                   CASE WHEN dpd > 0 THEN 'open' ELSE 'closed' END AS status,
                   CASE WHEN dpd > 0 THEN NULL ELSE 'cured' END AS close_reason,
                   CAST(DATE '{d}' - INTERVAL 1 DAY * (dpd + 1 + loan_id % 20) AS DATE) AS opened_on,
                   CASE WHEN dpd > 0 THEN NULL ELSE CAST(DATE '{d}' - INTERVAL 1 DAY * (loan_id % 20) AS DATE) END
                       AS closed_on,
                   CASE WHEN dpd > 0 AND loan_id % 3 = 0 THEN {owner} END AS owner_user_id,
                   CASE WHEN dpd > 90 THEN 'field' ELSE 'phone' END AS team, '' AS next_action,
                   NULL::DATE AS next_action_due, 1 AS version, {ts} AS created_at FROM w_loans""")
        _copy(con, factory, "work_tasks", f"""
            SELECT loan_id AS id, loan_id AS case_id, loan_id, borrower_id, DATE '{d}' AS business_date,
                   'call' AS kind, CASE WHEN dpd > 90 THEN 'field' ELSE 'phone' END AS team, 'zh-CN' AS language,
                   product_code, CASE WHEN dpd <= 90 THEN 'phone' ELSE 'field_visit' END AS stage, 'bench' AS rule,
                   'open' AS status, CASE WHEN loan_id % 3 = 0 THEN {owner} END AS assignee_user_id,
                   NULL::TIMESTAMPTZ AS assigned_at, 1 AS version, {ts} AS created_at FROM w_loans WHERE dpd > 0""")
        _copy(con, factory, "events", f"""
            SELECT loan_id + 1000000000 AS id, {ts} AS occurred_at, 'eod' AS actor, 'case.opened' AS action,
                   'case' AS subject_type, loan_id::VARCHAR AS subject_id, 1 AS seq, borrower_id,
                   NULL AS before, '{{"stage":"reminder"}}' AS after, '' AS reason, repeat('0', 64) AS prev_hash,
                   md5(loan_id::VARCHAR) || md5(loan_id::VARCHAR) AS hash FROM w_loans WHERE loan_id % 4 = 0""")
    with stopwatch(figures, "rows_s"):
        figures.update(web_book.add_rows(con, lambda table, query: _copy(con, factory, table, query), factory, d,
                                         now, cipher, users, SCHEDULED, say))
    with unit_of_work(factory) as session:
        for table in ("borrowers", "loans", "cases", "work_tasks", "events", "users"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
    # Statistics and the visibility map, as autovacuum leaves them after an end of day: index-only scans
    # (a team's queue walks one) read no table row once a page is all-visible.
    with stopwatch(figures, "vacuum_s"), engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    store = SnapshotStore(data_dir / "snapshots")
    store.write(d, conform(con.sql("SELECT * FROM w_states").to_arrow_table(), SNAPSHOT))
    with unit_of_work(factory) as session:
        session.execute(text("INSERT INTO eod_runs (business_date, status, started_at, finished_at, loans, rejected, "
                             "summary) VALUES (:d, 'complete', :t, :t, :n, 0, '{}')"), {"d": d, "t": now, "n": n})
    with stopwatch(figures, "aggregate_day_s"), unit_of_work(factory) as session:
        aggregate_day(session, store, d)
    with stopwatch(figures, "history_s"), unit_of_work(factory) as session:  # a year of days shaped like today
        session.execute(text("""
            INSERT INTO portfolio_daily (business_date, product_code, team, bucket, classification, loans,
                                         balance_fen, overdue_fen)
            SELECT p.business_date - k, p.product_code, p.team, p.bucket, p.classification,
                   p.loans - (k % 7), p.balance_fen, p.overdue_fen
            FROM portfolio_daily p CROSS JOIN generate_series(1, :days) k WHERE p.business_date = :d"""),
                        {"d": d, "days": HISTORY_DAYS})
        session.execute(text("""
            INSERT INTO roll_rate_daily (business_date, anchor_date, product_code, team, from_bucket, to_bucket,
                                         loans, from_balance_fen, to_balance_fen, recovered_fen)
            SELECT r.business_date - k, r.anchor_date - k, r.product_code, r.team, r.from_bucket, r.to_bucket,
                   r.loans, r.from_balance_fen, r.to_balance_fen, r.recovered_fen
            FROM roll_rate_daily r CROSS JOIN generate_series(1, :days) k WHERE r.business_date = :d"""),
                        {"d": d, "days": HISTORY_DAYS})
        session.execute(text("""
            INSERT INTO eod_runs (business_date, status, started_at, finished_at, loans, rejected, summary)
            SELECT business_date - k, status, started_at, finished_at, loans, rejected, summary
            FROM eod_runs CROSS JOIN generate_series(1, :days) k WHERE business_date = :d"""),
                        {"d": d, "days": HISTORY_DAYS})
        session.execute(text("ANALYZE portfolio_daily"))
        session.execute(text("ANALYZE roll_rate_daily"))
    engine.dispose()
    return figures


def _p95(samples: list):  # milliseconds
    ordered = sorted(samples)
    return round(ordered[max(0, -(-len(ordered) * 95 // 100) - 1)], 1)


def _samples(settings, users: dict[str, str]) -> dict[str, list]:
    """SAMPLES read from the database measured, and the portal borrower's loans (overdue first)."""
    from arrears.db.engine import make_engine

    engine = make_engine(settings.database_url)
    with engine.connect() as c:
        out = {key: list(c.execute(text(sql).bindparams(**({"collector": users["collector"]} if ":collector" in sql
                                                           else {}))).scalars()) for key, sql in SAMPLES.items()}
        out["own_loan"] = list(c.execute(text(
            "SELECT l.id FROM loans l JOIN users u ON u.borrower_id = l.borrower_id "
            "LEFT JOIN loan_delinquency s ON s.loan_id = l.id WHERE u.username = :u "
            "ORDER BY coalesce(s.dpd, 0) DESC, l.id LIMIT 1"), {"u": users["borrower"]}).scalars())
    engine.dispose()
    return out


_NEXT = re.compile(r'[?&]amp;after=([^"&]+)"')


def _second_page(client, path: str) -> list[str]:
    """The ``after`` of the first page's "next" link (the path without ``after``), as the page gives it."""
    first = client.get(path.replace("after={after}", "").rstrip("?&"))
    found = _NEXT.search(first.text)
    return [unquote(found.group(1).replace("&amp;", "&"))] if found else []


def measure(settings, d: date, users: dict[str, str], loan_ids: list[int], requests: int, say,
            only: tuple[str, ...] = (), password: str = PASSWORD) -> dict:
    """p95 and median in ms of each page of PAGES (those named in ``only`` if given), ``requests`` timed
    requests after 3 warm-up ones; None for a page without samples on this database."""
    from fastapi.testclient import TestClient

    from arrears.web.app import create_app

    values = {"end": d.isoformat(), "year_ago": (d - timedelta(days=364)).isoformat()}
    pools = {**_samples(settings, users), "loan_id": loan_ids}
    rng = random.Random(7)
    out: dict = {}
    with TestClient(create_app(settings)) as client:
        for name, role, path in PAGES:
            if only and name not in only:
                continue
            client.cookies.clear()
            r = client.post("/login", data={"username": users[role], "password": password}, follow_redirects=False)
            if r.status_code != 303:
                raise RuntimeError(f"bench web: signing in as {users[role]} failed ({r.status_code})")
            wanted = {key for key in pools if "{" + key + "}" in path}
            here = {**pools, "after": _second_page(client, path) if "{after}" in path else []}
            if any(not here[key] for key in (*wanted, *(["after"] if "{after}" in path else []))):
                out[name] = None
                say(f"{name}: no samples here, skipped")
                continue
            samples = []
            for k in range(requests + 3):
                url = path.format(**{key: quote(str(rng.choice(v)), safe="") for key, v in here.items() if v},
                                  **values)
                start = time.perf_counter()
                r = client.get(url)
                elapsed = (time.perf_counter() - start) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"bench web: {url} answered {r.status_code}: {r.text[:300]}")
                if k >= 3:
                    samples.append(elapsed)
            out[name] = {"p95_ms": _p95(samples), "median_ms": round(statistics.median(samples), 1)}
            say(f"{name}: {out[name]}")
    return out


def _figures(pages: dict, prefix: str = "") -> dict:
    measured = {name: v for name, v in pages.items() if v is not None}
    return {f"{prefix}pages": {name: v and v["p95_ms"] for name, v in pages.items()},
            f"{prefix}page_median_ms": {name: v and v["median_ms"] for name, v in pages.items()},
            f"{prefix}page_p95_ms": max((v["p95_ms"] for v in measured.values()), default=None)}


def run_web_bench(cases: int, *, database_url: str, reuse: bool, demo_dir: Path | None, demo_loans: int,
                  requests: int, progress=None, schema: str = SCHEMA, only: tuple[str, ...] = (),
                  demo: bool = True) -> dict:
    from arrears.db.engine import make_engine
    from arrears.privacy import PersonalDataCipher
    from arrears.settings import Settings

    say = progress.print if progress else (lambda *_: None)
    d = date.today() - timedelta(days=1)
    figures: dict = {"cases": cases}
    data_dir = Path(tempfile.gettempdir()) / f"arrears-bench-web-{schema}"
    key = bytes(range(32))  # the bench's own key: the stored ciphertexts decrypt with it
    sep = "&" if "?" in database_url else "?"
    url = f"{database_url}{sep}options=-csearch_path%3D{schema}"
    admin = make_engine(database_url)
    with admin.begin() as c:
        exists = c.execute(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s "
                                "AND table_name = 'portfolio_daily'"), {"s": schema}).scalar_one()
        built = exists and c.execute(text(f'SELECT count(*) FROM "{schema}".cases')).scalar_one() == cases
        if not (reuse and built):
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    if reuse and built:
        figures["reused"] = True
        with make_engine(url).connect() as c:
            d = c.execute(text("SELECT max(business_date) FROM eod_runs")).scalar_one()
    else:
        say(f"building {cases:,} cases in schema {schema} …")
        start = time.perf_counter()
        figures.update(_build(url, cases, d, data_dir, PersonalDataCipher(key), say))
        figures["build_s"] = round(time.perf_counter() - start, 3)
    users = {role: f"bench_{role}" for role in (*ROLES, "borrower")}
    big = Settings(data_dir=data_dir, database_url=url, secret_key=key)
    figures.update(_figures(measure(big, d, users, list(range(1, SCHEDULED + 1)), requests, say, only)))
    if demo:
        figures.update(_demo(demo_dir, demo_loans, requests, say, only))
    return figures


def _demo(demo_dir: Path | None, loans: int, requests: int, say, only: tuple[str, ...] = ()) -> dict:
    """The same pages on the demo database (built fresh in a temporary folder unless ``demo_dir`` holds one)."""
    from sqlalchemy import select

    from arrears.db.engine import make_engine, make_session_factory, unit_of_work
    from arrears.delinquency.store import completed_dates
    from arrears.demo.build import DEMO_PASSWORD, build_demo
    from arrears.loans.tables import Loan
    from arrears.settings import business_date, load_settings

    folder = demo_dir or Path(tempfile.mkdtemp(prefix="arrears-bench-web-demo-"))
    settings = load_settings(folder, f"sqlite:///{folder / 'arrears.db'}")
    figures: dict = {}
    if not (folder / "arrears.db").exists():
        say(f"building the demo database ({loans} loans) …")
        with stopwatch(figures, "demo_build_s"):
            build_demo(settings, loans=loans, business_date=business_date(), seed=20261123)
    factory = make_session_factory(make_engine(settings.database_url))
    with unit_of_work(factory) as session:
        d = completed_dates(session)[-1]
        loan_ids = list(session.scalars(select(Loan.id).order_by(Loan.id).limit(2000)))
        # The demo's own sign-ins (the collector with most open cases, the demo's borrower), as a person uses it.
        users = dict(session.execute(text("SELECT role, min(username) FROM users GROUP BY role")).all())
        users["collector"] = session.scalar(text(
            "SELECT u.username FROM users u JOIN cases c ON c.owner_user_id = u.id AND c.status = 'open' "
            "WHERE u.role = 'collector' GROUP BY u.username ORDER BY count(*) DESC LIMIT 1")) or users["collector"]
    figures.update(_figures(measure(settings, d, users, loan_ids, requests, say, only, DEMO_PASSWORD), "demo_"))
    return figures
