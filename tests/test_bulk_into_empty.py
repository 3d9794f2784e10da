"""db.bulk.insert_arrow_into_empty: a load into an empty table builds its secondary indexes and its primary key (unless
a foreign key refers to it) after the rows (the first end-of-day run's 1M loan states); into a table that has rows,
the indexes stay as they are. Either way every row lands and the table ends with the same indexes; a duplicate key
fails the load and the table is as before."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from arrears.db.bulk import insert_arrow_into_empty, secondary_indexes


def _states(first: int, n: int) -> pa.Table:
    ids = list(range(first, first + n))
    return pa.table({
        "loan_id": ids, "borrower_id": [i // 2 for i in ids], "business_date": [date(2026, 11, 30)] * n,
        "product_code": ["consumer"] * n, "dpd": [i % 90 for i in ids],
        **{c: [i * 100 for i in ids] for c in ("overdue_principal_fen", "overdue_interest_fen", "overdue_fee_fen",
                                               "overdue_penalty_fen", "penalty_due_fen",
                                               "outstanding_principal_fen", "total_outstanding_fen")},
        "bucket": ["M1"] * n, "tier": ["mild"] * n, "m_bucket": ["M1"] * n, "classification": ["special_mention"] * n,
        "in_observation": [False] * n, "fully_paid": [False] * n})


def _index_oids(session) -> dict[str, int]:  # noqa: ANN001
    return dict(session.execute(text(
        "SELECT c.relname, c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = 'loan_delinquency' AND t.relnamespace = current_schema()::regnamespace")).all())


def _loan_ids(session) -> list[int]:  # noqa: ANN001
    return session.execute(text("SELECT loan_id FROM loan_delinquency ORDER BY loan_id")).scalars().all()


def test_a_load_into_an_empty_table_rebuilds_its_secondary_indexes_and_keeps_every_row(db) -> None:  # noqa: ANN001
    with db.session() as session, session.begin():
        if db.backend == "postgresql":
            before, oids = secondary_indexes(session.connection(), ("loan_delinquency",)), _index_oids(session)
        assert insert_arrow_into_empty(session, "loan_delinquency", _states(1, 50), defer_from=10) == 50
        if db.backend == "postgresql":
            assert secondary_indexes(session.connection(), ("loan_delinquency",)) == before
            assert len(before) == 3  # the work queue's two and borrower_id's
            rebuilt = _index_oids(session)
            assert set(rebuilt) == set(oids)
            assert all(rebuilt[name] != oids[name] for name in oids)  # dropped and built again, the primary key too
    with db.session() as session:
        assert _loan_ids(session) == list(range(1, 51))
        if db.backend == "postgresql":  # the rebuilt index answers: an index-only look-up by dpd
            assert session.execute(text("SELECT count(*) FROM loan_delinquency WHERE dpd = 7")).scalar_one() == 1


def test_a_load_into_a_table_with_rows_or_below_the_threshold_leaves_the_indexes(db) -> None:  # noqa: ANN001
    with db.session() as session, session.begin():
        oids = _index_oids(session) if db.backend == "postgresql" else None
        insert_arrow_into_empty(session, "loan_delinquency", _states(1, 5), defer_from=10)  # below the threshold
        if db.backend == "postgresql":
            assert _index_oids(session) == oids
        insert_arrow_into_empty(session, "loan_delinquency", _states(6, 20), defer_from=10)  # not empty
        if db.backend == "postgresql":
            assert _index_oids(session) == oids
    with db.session() as session:
        assert _loan_ids(session) == list(range(1, 26))


def test_a_duplicate_key_in_a_load_into_an_empty_table_fails_and_leaves_it_as_it_was(db) -> None:  # noqa: ANN001
    with db.session() as session:
        oids = _index_oids(session) if db.backend == "postgresql" else None
    rows = pa.concat_tables([_states(1, 30), _states(7, 1)])  # loan 7 twice
    with pytest.raises(IntegrityError), db.session() as session, session.begin():
        insert_arrow_into_empty(session, "loan_delinquency", rows, defer_from=10)
    with db.session() as session:
        assert _loan_ids(session) == []
        if db.backend == "postgresql":
            assert _index_oids(session) == oids  # the rolled-back drop left every index, the key among them
        insert_arrow_into_empty(session, "loan_delinquency", _states(1, 30), defer_from=10)
        with pytest.raises(IntegrityError):  # the primary key is back and enforced
            session.execute(text("INSERT INTO loan_delinquency SELECT * FROM loan_delinquency WHERE loan_id = 3"))


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite loads row by row, its keys in place
def test_a_primary_key_another_table_refers_to_stays_through_the_load(db) -> None:  # noqa: ANN001
    with db.session() as session, session.begin():
        session.execute(text("CREATE TABLE parent (id BIGINT PRIMARY KEY, label TEXT)"))
        session.execute(text("CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id))"))
        kept = session.execute(text("SELECT CAST('parent_pkey' AS regclass)::oid")).scalar_one()
        insert_arrow_into_empty(session, "parent", pa.table({"id": [1, 2, 3], "label": ["甲", "乙", None]}),
                                defer_from=2)
        assert session.execute(text("SELECT CAST('parent_pkey' AS regclass)::oid")).scalar_one() == kept
        insert_arrow_into_empty(session, "child", pa.table({"id": [10, 11], "parent_id": [1, 3]}), defer_from=2)
        with pytest.raises(IntegrityError):  # the child's key was rebuilt and the reference is checked
            with session.begin_nested():
                session.execute(text("INSERT INTO child VALUES (12, 99)"))
    with db.session() as session:
        assert session.execute(text("SELECT id, label FROM parent ORDER BY id")).all() == [(1, "甲"), (2, "乙"), (3, None)]
        assert session.execute(text("SELECT id, parent_id FROM child ORDER BY id")).all() == [(10, 1), (11, 3)]
