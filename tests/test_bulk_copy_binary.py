"""db.bulk.insert_arrow on PostgreSQL: COPY BINARY when every column has an exact binary form (integers, dates,
booleans, text, bytea, instants), CSV otherwise; either way the rows read back as written."""

from __future__ import annotations

from datetime import date, datetime, timezone

import psycopg
import pyarrow as pa
import pytest
from sqlalchemy import text

from arrears.db import bulk

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite inserts with executemany

WRITTEN = pa.table({
    "a": pa.array([1, None, -(2**62)], pa.int64()), "b": pa.array(["逾期", None, "a,\"b\"\n'c"]),
    "c": pa.array([date(2026, 12, 1), None, date(1999, 1, 31)]), "d": pa.array([True, None, False]),
    "e": pa.array([7, None, -3], pa.int64()),  # into an integer column: cast
    "f": pa.array([b"\x00\xff", None, b""], pa.binary()),
    "g": pa.array([datetime(2026, 12, 1, 3, 4, 5, 6, tzinfo=timezone.utc), None, None], pa.timestamp("us", "UTC")),
    "h": pa.array([3, None, 0], pa.int16())})


def _create(session, extra: str = "") -> None:  # noqa: ANN001
    session.execute(text("CREATE TABLE copied (a BIGINT, b VARCHAR(20), c DATE, d BOOLEAN, e INTEGER, f BYTEA, "
                         f"g TIMESTAMPTZ, h SMALLINT{extra})"))


def _read(session) -> list[tuple]:  # noqa: ANN001
    rows = session.execute(text("SELECT a, b, c, d, e, f, g, h FROM copied ORDER BY a NULLS LAST")).all()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]  # bytea as bytes


def _expected() -> list[tuple]:
    rows = [tuple(row.values()) for row in WRITTEN.to_pylist()]
    return sorted(rows, key=lambda r: (r[0] is None, r[0] or 0))


def test_every_supported_type_goes_binary_and_reads_back(db) -> None:  # noqa: ANN001
    with db.session() as session, session.begin():
        _create(session)
        assert bulk._copy_binary(session.connection(), "copied", WRITTEN)  # taken, not fallen back from
        assert _read(session) == _expected()


def test_a_column_without_a_binary_form_sends_the_table_as_csv(db) -> None:  # noqa: ANN001
    with db.session() as session, session.begin():
        _create(session, ", n NUMERIC(10, 2)")
        data = WRITTEN.append_column("n", pa.array(["1.25", None, "-3"]))
        assert not bulk._copy_binary(session.connection(), "copied", data)  # nothing sent
        assert session.execute(text("SELECT count(*) FROM copied")).scalar_one() == 0
        assert bulk.insert_arrow(session, "copied", data) == 3
        assert _read(session) == _expected()


def test_a_value_the_column_cannot_hold_is_refused_by_the_server(db) -> None:  # noqa: ANN001
    too_big = WRITTEN.set_column(4, "e", pa.array([2**40, None, 1], pa.int64()))
    with db.session() as session:
        _create(session)
        session.commit()
        assert not bulk._copy_binary(session.connection(), "copied", too_big)  # the cast refuses it
        with pytest.raises(psycopg.DataError, match="out of range"):  # as with CSV
            bulk.insert_arrow(session, "copied", too_big)
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM copied")).scalar_one() == 0
