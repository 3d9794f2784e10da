"""The next date's window by the compiled scan (``arrears.delinquency.window``) equals ``_window_sql``'s rows in
DuckDB, row for row, whatever the due dates, amounts and batches; where the SQL's BIGINT arithmetic could overflow, or
a value is null, the scan declines (None) and the SQL decides."""

from datetime import date, timedelta

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.delinquency.incremental import _window_sql
from arrears.delinquency.model import INSTALMENTS
from arrears.delinquency.sql import date_literal
from arrears.delinquency.window import window_rows

P = date(2026, 10, 31)
D = P + timedelta(days=1)
_AMOUNT = st.integers(0, 10**6) | st.sampled_from([0, 1, 2**62, -(2**62), 2**63 - 1, -(2**63)])


@st.composite
def instalments(draw, amounts=st.integers(0, 10**6)):  # noqa: ANN001, ANN201
    n = draw(st.integers(0, 40))
    rows = [{"loan_id": k // 3 + 1, "seq": k % 3 + 1, "due_on": P + timedelta(days=draw(st.integers(-6, 2))),
             **{f"{c}_{kind}_fen": draw(amounts) for c in ("principal", "interest", "fee", "cost")
                for kind in ("due", "settled")}, "penalty_settled_fen": 0} for k in range(n)]
    table = pa.Table.from_pylist(rows, schema=INSTALMENTS)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))  # several batches, an empty one among them
    return pa.Table.from_batches([b for lo, hi in zip([0, *cuts], [*cuts, n]) for b in table.slice(lo, hi - lo)
                                  .to_batches()], schema=INSTALMENTS) if n else table


def _sql(table: pa.Table, lo: date) -> list[tuple]:
    con = duckdb.connect()
    con.register("eod_instalments_all", table)
    return con.sql(f"SELECT * FROM ({_window_sql(date_literal(P), date_literal(D), date_literal(lo))}) "
                   "ORDER BY ALL").fetchall()


@settings(max_examples=300, deadline=None)
@given(instalments(), st.integers(-6, 1))
def test_the_scan_equals_the_sql(table, back):
    lo = P + timedelta(days=back)
    rows = window_rows(table, lo, P, D)
    assert rows is not None
    assert sorted(rows.to_pylist(), key=lambda r: tuple(r.values())) == [
        dict(zip(("loan_id", "due_on", "owes", "owed"), row)) for row in _sql(table, lo)]


@settings(max_examples=200, deadline=None)
@given(instalments(_AMOUNT), st.integers(-6, 1))
def test_amounts_near_the_bigint_limits_are_the_sqls_or_left_to_it(table, back):
    """The scan either gives the SQL's rows, or declines where the SQL's arithmetic overflows on a row it reads."""
    lo = P + timedelta(days=back)
    rows = window_rows(table, lo, P, D)
    try:
        expected = _sql(table, lo)
    except duckdb.OutOfRangeException:
        assert rows is None
        return
    if rows is not None:
        assert sorted(rows.to_pylist(), key=lambda r: tuple(r.values())) == [
            dict(zip(("loan_id", "due_on", "owes", "owed"), row)) for row in expected]


def test_a_null_leaves_the_window_to_the_sql():
    table = pa.Table.from_pylist([{"loan_id": 1, "seq": 1, "due_on": D, **{f: 1 for f in INSTALMENTS.names[3:]}}],
                                 schema=INSTALMENTS)
    assert window_rows(table, P, P, D).num_rows == 1
    nulled = table.set_column(3, "principal_due_fen", pa.array([None], pa.int64()))
    assert window_rows(nulled, P, P, D) is None
