"""db.bulk.insert_arrow_into_empty: a load into an empty table builds its secondary indexes after the rows (the
first end-of-day run's 1M loan states); into a table that has rows, the indexes stay as they are. Either way every
row lands and the table ends with the same indexes."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from sqlalchemy import text

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
            secondary = {name for name, _ in before}
            assert all(rebuilt[name] != oids[name] for name in secondary)  # dropped and built again
            assert all(rebuilt[name] == oids[name] for name in oids if name not in secondary)  # the primary key
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
