"""The incremental run's subsets of the inputs (``incremental._rows_of``): the rows of the chosen loans, found by
binary search batch by batch, equal a plain filter whatever the batches; inputs not ordered by loan_id (within a
batch or across two) are refused, and the run falls back to a semi-join. And the snapshot patch's text columns
(``incremental._spliced``): P's column with the replaced values in place, whatever its chunks."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.delinquency.incremental import _rows_of, _spliced


def _table(loan_ids: list[int], cuts: list[int]) -> pa.Table:
    """A two-column table of ``loan_ids`` (a row number beside), in batches cut at ``cuts``."""
    table = pa.table({"loan_id": pa.array(loan_ids, pa.int64()), "row": pa.array(range(len(loan_ids)), pa.int64())})
    edges = [0, *sorted({c for c in cuts if 0 < c < len(loan_ids)}), len(loan_ids)]
    return pa.Table.from_batches([batch for lo, hi in zip(edges, edges[1:])
                                  for batch in table.slice(lo, hi - lo).to_batches()], schema=table.schema)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 40), max_size=120), st.lists(st.integers(0, 120), max_size=8),
       st.lists(st.integers(0, 45), max_size=30))
def test_the_rows_of_the_chosen_loans_whatever_the_batches(loan_ids, cuts, chosen):
    table = _table(sorted(loan_ids), cuts)
    ids = np.unique(np.array(chosen, dtype=np.int64))
    rows = _rows_of(table, ids)
    expected = table.filter(pc.is_in(table.column("loan_id"), value_set=pa.array(ids, pa.int64())))
    assert rows is not None and rows.to_pydict() == expected.to_pydict()


def test_inputs_out_of_order_are_refused():
    ids = np.array([2, 3], dtype=np.int64)
    assert _rows_of(_table([1, 3, 2, 4], []), ids) is None  # within a batch
    assert _rows_of(_table([1, 3, 5, 2, 4, 6], [3]), ids) is None  # each batch ordered, not the two together
    assert _rows_of(_table([1, 2, 2, 3], [2]), ids).column("row").to_pylist() == [1, 2, 3]  # a loan across two


_LEVELS = st.sampled_from(["M0", "M1", "轻微", "严重", None])


@settings(max_examples=200, deadline=None)
@given(st.lists(_LEVELS, min_size=1, max_size=60), st.lists(st.integers(1, 59), max_size=6), st.data())
def test_a_text_column_spliced_equals_one_rebuilt_under_a_mask(before, cuts, data):
    """Replaced values that differ, that are equal and that are null, in a column of P in chunks cut anywhere: the
    column equals P's with every replaced position set, as ``pc.replace_with_mask`` gives it."""
    edges = [0, *sorted({c for c in cuts if c < len(before)}), len(before)]
    column = pa.chunked_array([pa.array(before[lo:hi], pa.string()) for lo, hi in zip(edges, edges[1:])], pa.string())
    at = np.array(sorted(data.draw(st.sets(st.integers(0, len(before) - 1)))), dtype=np.int64)
    replaced = data.draw(st.lists(_LEVELS, min_size=len(at), max_size=len(at)))
    after = pa.chunked_array([pa.array(replaced, pa.string())])
    mask = np.zeros(len(before), dtype=bool)
    mask[at] = True
    expected = pc.replace_with_mask(column.combine_chunks(), pa.array(mask), after.combine_chunks())
    spliced = _spliced(column, after, at)  # P's own column when no value differs
    assert (spliced.combine_chunks() if isinstance(spliced, pa.ChunkedArray) else spliced).equals(expected)
