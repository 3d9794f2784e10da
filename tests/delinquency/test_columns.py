"""Compiled edits of Arrow columns (``arrears.delinquency.columns``): a text column with values replaced equals
pyarrow's replacement under a mask, whatever the values (multi-byte, empty, equal to the ones replaced) and
the arrays' offsets; the order check equals numpy's."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.delinquency.columns import ordered, splice_text

_CODES = st.sampled_from(["", "M0", "M1", "M7", "轻微", "严重", "normal", "关注类"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_CODES, min_size=1, max_size=80), st.integers(0, 5), st.data())
def test_a_text_column_spliced_equals_a_replacement_under_a_mask(values, skip, data):
    before = pa.array(["x"] * skip + values, pa.string()).slice(skip)  # an array with an offset into its buffers
    at = np.array(sorted(data.draw(st.sets(st.integers(0, len(values) - 1)))), dtype=np.int64)
    replaced = data.draw(st.lists(_CODES, min_size=len(at), max_size=len(at)))
    after = pa.array(["y"] + replaced, pa.string()).slice(1)
    mask = np.zeros(len(values), dtype=bool)
    mask[at] = True
    expected = pc.replace_with_mask(before, pa.array(mask), after)
    spliced = splice_text(before, at, after)
    assert spliced.equals(expected)
    differs = any(values[a] != r for a, r in zip(at, replaced))
    assert (spliced is before) == (not differs)  # the column itself when no value differs


def test_text_with_nulls_is_left_to_the_general_path():
    assert splice_text(pa.array(["a", None]), np.array([0]), pa.array(["b"])) is None
    assert splice_text(pa.array(["a", "c"]), np.array([0]), pa.array([None], pa.string())) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=40))
def test_ordered_equals_numpy(keys):
    array = np.array(keys, dtype=np.int64)
    assert ordered(array) == bool(np.all(array[1:] >= array[:-1]))
