"""Arrow columns edited by compiled loops over their buffers, where pyarrow's kernels would rebuild or resolve every
value (docs/eod.md, Incremental run): a text column with a few values replaced, the check that a column of
loan_ids is ordered, and a column of one date. Loops over values in numba or numpy, never Python loops over loans."""

from __future__ import annotations

from datetime import date

import numba
import numpy as np
import pyarrow as pa


def splice_text(before: pa.Array, at: np.ndarray, after: pa.Array) -> pa.Array | None:
    """``before`` (a string array without nulls) with the values at the increasing positions ``at`` replaced by
    ``after``'s (as many, no nulls either): ``before`` itself when none differs, else one copy of its bytes with the
    differing values in place. None when either has nulls or the result would not fit 32-bit offsets (the caller's
    general path then does it)."""
    if before.null_count or after.null_count or not (pa.types.is_string(before.type) and pa.types.is_string(after.type)):
        return None
    offsets, data = _buffers(before)
    new_offsets, new_data = _buffers(after)
    at = at.astype(np.int64, copy=False)
    differ, size = _differing(offsets, data, at, new_offsets, new_data)
    if len(differ) == 0:
        return before
    if size >= 2**31:
        return None
    out_offsets, out_data = _splice(offsets, data, at[differ], new_offsets, new_data, differ, size)
    return pa.StringArray.from_buffers(len(before), pa.py_buffer(out_offsets), pa.py_buffer(out_data), null_count=0)


def _buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets (its own slice of them) and its data bytes, read in place."""
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, np.int32, len(array) + 1, array.offset * 4)
    data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return offsets, data


@numba.njit(cache=True, nogil=True)
def _differing(offsets, data, at, new_offsets, new_data):  # noqa: ANN001, ANN202
    """The replacements whose bytes differ from the value they replace (a day moves the level of a few loans in a
    thousand), and the size in bytes of the result."""
    differ = np.empty(len(at), np.int64)
    m, size = 0, offsets[len(offsets) - 1] - offsets[0]
    for k in range(len(at)):
        lo, hi = offsets[at[k]], offsets[at[k] + 1]
        new_lo, new_hi = new_offsets[k], new_offsets[k + 1]
        same = hi - lo == new_hi - new_lo
        b = 0
        while same and b < hi - lo:
            same = data[lo + b] == new_data[new_lo + b]
            b += 1
        if not same:
            differ[m] = k
            m += 1
            size += (new_hi - new_lo) - (hi - lo)
    return differ[:m], size


@numba.njit(cache=True, nogil=True)
def _splice(offsets, data, where, new_offsets, new_data, differ, size):  # noqa: ANN001, ANN202
    """The values at ``where`` replaced by ``differ``'s of the new ones: between two of them the values are one block
    of offsets shifted and one copy of bytes, with no test per value."""
    n, m = len(offsets) - 1, len(where)
    out_offsets = np.empty(n + 1, np.int32)
    out = np.empty(size, np.uint8)
    out_offsets[0] = 0
    start = 0  # the first value of the current run of unchanged ones
    for j in range(m + 1):
        stop = where[j] if j < m else n
        shift = out_offsets[start] - offsets[start]
        for i in range(start + 1, stop + 1):
            out_offsets[i] = offsets[i] + shift
        base = out_offsets[start] - offsets[start]
        for b in range(offsets[start], offsets[stop]):
            out[b + base] = data[b]
        if j < m:
            k = differ[j]
            out_offsets[stop + 1] = out_offsets[stop] + new_offsets[k + 1] - new_offsets[k]
            base = out_offsets[stop] - new_offsets[k]
            for b in range(new_offsets[k], new_offsets[k + 1]):
                out[b + base] = new_data[b]
            start = stop + 1
    return out_offsets, out


def one_date(day: date, n: int) -> pa.Array:
    """``n`` times ``day`` as date32, made as its days since 1970 (numpy's datetime64 converted ≈ 20 × slower)."""
    return pa.array(np.full(n, (day - date(1970, 1, 1)).days, np.int32)).view(pa.date32())


@numba.njit(cache=True, nogil=True)
def ordered(keys) -> bool:  # noqa: ANN001
    """Every value ≥ the one before it: one pass with no branch per value (it vectorises), no temporary array."""
    descents = 0
    for i in range(1, len(keys)):
        descents += keys[i] < keys[i - 1]
    return descents == 0
