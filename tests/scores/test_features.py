"""Point-in-time features: the values the rules give on a hand-made book, nothing dated after the assessment
date is read (changing such data changes nothing, while a change before it does), and the one-loan path equals
the bulk SQL on a generated portfolio. On SQLite and PostgreSQL."""

from datetime import date, datetime, timedelta, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sqlalchemy import update

from arrears.bench.portfolio import generate
from arrears.cases.tables import PromiseToPay
from arrears.loans.payments import post_payment
from arrears.scores.bench import bench_sources
from arrears.scores.features import SOURCES, build_features, load_sources, points_for
from arrears.scores.features_one import features_one
from scores_book import AS_OF, TODAY, add_contact, build_book


def _features(s, as_of=AS_OF, until=TODAY) -> dict[int, dict]:
    sources = load_sources(s, until)  # everything the database holds up to TODAY: the SQL must cut at as_of
    table = build_features(sources, points_for(sources["loans"].column("loan_id"), as_of))
    return {r["loan_id"]: r for r in table.to_pylist()}


def test_features_follow_the_rules_on_a_hand_made_book(db):
    with db.session() as s:
        book = build_book(s)
        f = _features(s)
    l1, l2, l3 = f[book["L1"]], f[book["L2"]], f[book["L3"]]
    # L1 paid instalments 1 and 2 before their due dates
    assert (l1["dpd"], l1["paid_ratio"], l1["on_time_share"], l1["n_late_6m"]) == (0, 1, 1, 0)
    # L2 paid instalment 1 on 02-20 (19 days late), nothing for instalment 2 due 03-01 (14 days by 03-15)
    assert (l2["dpd"], l2["max_late_6m"], l2["n_late_6m"], l2["paid_ratio"]) == (14, 19, 2, 0.5)
    assert l2["days_since_last_payment"] == (AS_OF - date(2024, 2, 20)).days
    # L3 paid nothing: 43 days since 02-01; two contacts in 30 days, one reached; a promise still open
    assert (l3["dpd"], l3["contacts_30d"], l3["reached_30d"], l3["open_promise"]) == (43, 2, 1, "yes")
    assert l3["days_since_last_payment"] is None and l3["overdue_to_instalment"] == 2
    assert all(r["source_max_date"] <= AS_OF for r in f.values())


def test_data_dated_after_the_assessment_date_changes_nothing(db):
    with db.session() as s:
        book = build_book(s)
        s.commit()
        before = _features(s)
        after_day = AS_OF + timedelta(days=1)
        post_payment(s, loan_id=book["L3"], amount_fen=300_000, received_on=after_day, idempotency_key="late-1",
                     actor="t", today=TODAY)
        post_payment(s, loan_id=book["L2"], amount_fen=102_500, received_on=date(2024, 3, 25),
                     idempotency_key="late-2", actor="t", today=TODAY)
        add_contact(s, book["case"], datetime(2024, 3, 16, 1, tzinfo=timezone.utc), "connected")
        s.execute(update(PromiseToPay).values(status="broken", resolved_on=date(2024, 3, 23)))
        s.add(PromiseToPay(case_id=book["case"].id, loan_id=book["L3"], borrower_id=book["borrower"].id,
                           amount_fen=10_000, promised_on=after_day, due_on=date(2024, 4, 1)))
        s.commit()
        assert _features(s) == before
        # the same kind of change dated on the assessment date does count (the test can fail)
        add_contact(s, book["case"], datetime(2024, 3, 15, 1, tzinfo=timezone.utc), "connected")
        s.commit()
        changed = _features(s)
    assert changed[book["L3"]]["contacts_30d"] == before[book["L3"]]["contacts_30d"] + 1
    assert changed[book["L3"]]["source_max_date"] == AS_OF


def test_reading_until_the_assessment_date_gives_the_same_features(db):
    with db.session() as s:
        build_book(s)
        post_payment(s, loan_id=1, amount_fen=1_000, received_on=date(2024, 4, 2), idempotency_key="x",
                     actor="t", today=TODAY)
        assert _features(s, until=AS_OF) == _features(s, until=TODAY)


def _random_contacts_and_promises(loan_ids: np.ndarray, first: date, rng: np.random.Generator) -> dict:
    n = len(loan_ids)
    days = lambda k: pa.array([first + timedelta(days=int(d)) for d in rng.integers(0, 400, k)], pa.date32())  # noqa: E731
    contacts = pa.table({"loan_id": pa.array(rng.choice(loan_ids, n), pa.int64()), "on_date": days(n),
                         "reached": pa.array(rng.random(n) < 0.5)})
    promised = days(n // 2).to_pylist()
    resolved = [p + timedelta(days=int(d)) if d < 40 else None for p, d in zip(promised, rng.integers(0, 60, n // 2))]
    promises = pa.table({"loan_id": pa.array(rng.choice(loan_ids, n // 2), pa.int64()),
                         "promised_on": pa.array(promised, pa.date32()),
                         "due_on": pa.array([p + timedelta(days=14) for p in promised], pa.date32()),
                         "amount_fen": pa.array(rng.integers(1, 10_000, n // 2) * 100, pa.int64()),
                         "status": pa.array([("broken" if i % 3 else "kept") if r else rng.choice(["open", "cancelled"])
                                             for i, r in enumerate(resolved)], pa.string()),
                         "resolved_on": pa.array(resolved, pa.date32())})
    return {"contacts": contacts.cast(SOURCES["contacts"]), "promises": promises.cast(SOURCES["promises"])}


@pytest.mark.parametrize("as_of", [date(2025, 12, 31), date(2026, 5, 17), date(2026, 10, 31)])
def test_one_loan_features_equal_the_bulk_sql(as_of):
    con = duckdb.connect()
    generate(con, 300, date(2026, 10, 31))
    sources = bench_sources(con)
    sources.update(_random_contacts_and_promises(np.arange(1, 301), date(2025, 10, 1), np.random.default_rng(5)))
    bulk = build_features(sources, points_for(sources["loans"].column("loan_id"), as_of)).sort_by("loan_id")
    assert bulk.num_rows > 100
    for row in bulk.to_pylist():
        own = {k: t.filter(pc.equal(t.column("loan_id"), row["loan_id"])) for k, t in sources.items()}
        one = features_one(own, row["loan_id"], as_of)
        assert one.keys() == row.keys()
        for key, value in row.items():
            if isinstance(value, float) or isinstance(one[key], float):
                assert one[key] == pytest.approx(value, rel=1e-12), (row["loan_id"], key)
            else:
                assert one[key] == value, (row["loan_id"], key)
    assert features_one(sources, 1, date(2000, 1, 1)) is None  # not disbursed yet: no row, as in bulk


@pytest.fixture(scope="module")
def small_book():
    con = duckdb.connect()
    generate(con, 120, date(2026, 10, 31))
    sources = bench_sources(con)
    sources.update(_random_contacts_and_promises(np.arange(1, 121), date(2025, 10, 1), np.random.default_rng(9)))
    return sources


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 500), extra=st.lists(st.tuples(st.integers(1, 120), st.integers(1, 400),
                                                           st.integers(1, 10_000_000)), min_size=1, max_size=20))
def test_any_rows_dated_after_the_assessment_date_change_no_feature(small_book, offset, extra):
    as_of = date(2025, 6, 1) + timedelta(days=offset)
    points = points_for(pa.array(range(1, 121), pa.int64()), as_of)
    before = build_features(small_book, points).sort_by("loan_id")
    later = [as_of + timedelta(days=d) for _, d, _ in extra]
    ids = pa.array([i for i, _, _ in extra], pa.int64())
    grown = dict(small_book)
    grown["settlements"] = pa.concat_tables([small_book["settlements"], pa.table({
        "loan_id": ids, "seq": pa.array([1] * len(extra), pa.int32()),
        "component": pa.array(["principal"] * len(extra)), "amount_fen": pa.array([a for *_, a in extra], pa.int64()),
        "value_date": pa.array(later, pa.date32())}).cast(SOURCES["settlements"])])
    grown["contacts"] = pa.concat_tables([small_book["contacts"], pa.table({
        "loan_id": ids, "on_date": pa.array(later, pa.date32()),
        "reached": pa.array([True] * len(extra))}).cast(SOURCES["contacts"])])
    grown["promises"] = pa.concat_tables([small_book["promises"], pa.table({
        "loan_id": ids, "promised_on": pa.array(later, pa.date32()), "due_on": pa.array(later, pa.date32()),
        "amount_fen": pa.array([a for *_, a in extra], pa.int64()), "status": pa.array(["open"] * len(extra)),
        "resolved_on": pa.array([None] * len(extra), pa.date32())}).cast(SOURCES["promises"])])
    after = build_features(grown, points).sort_by("loan_id")
    assert after.equals(before)
    assert all(d <= as_of for d in before.column("source_max_date").to_pylist())
