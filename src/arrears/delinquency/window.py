"""The next date's window of instalments (``incremental._window_sql``) by a compiled scan of the instalment columns.

DuckDB's scan filtered every one of the 15M instalment rows at 1M loans (≈ 80 ms of CPU, 40 ms on both cores: the
filter on the due date slices all ten columns it reads) to keep the ≈ 125,000 due in the window's few days. This scan
reads the due dates alone and the amounts of those few rows only, batch by batch (a loop over batches, not loans)
on two threads. The rule is the SQL's, expression for expression; where the SQL's checked BIGINT arithmetic could fail,
or a value is null, it returns None and the run takes the SQL. ``tests/delinquency/test_window.py`` compares the two.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numba
import numpy as np
import pyarrow as pa

from arrears.delinquency.continued import EPOCH

WINDOW = pa.schema([("loan_id", pa.int64()), ("due_on", pa.date32()), ("owes", pa.bool_()), ("owed", pa.int64())])
_AMOUNTS = ("principal_due_fen", "principal_settled_fen", "interest_due_fen", "interest_settled_fen", "fee_due_fen",
            "fee_settled_fen", "cost_due_fen", "cost_settled_fen")


def window_rows(instalments: pa.Table, lo: date, p: date, d: date) -> pa.Table | None:
    """The instalments due in [lo, D] that fall due in (P, D] or still owe, as ``_window_sql``'s rows (``WINDOW``), in
    the instalments' order; None when a column it reads has a null or an amount may overflow BIGINT (the SQL then
    decides, and fails where it must)."""
    names = ("loan_id", "due_on", *_AMOUNTS)
    if any(instalments.column(name).null_count for name in names):
        return None
    days = [np.int32((day - EPOCH).days) for day in (lo, p, d)]
    batches = [batch for batch in instalments.select(list(names)).to_batches() if batch.num_rows]

    def scan(batches: list[pa.RecordBatch]) -> list[tuple] | None:
        parts = []
        for batch in batches:  # a loop over batches, not loans
            arrays = [_values(batch.column(k)) for k in range(len(names))]
            rows, owes, owed, ok = _scan(arrays[1], *days, *arrays[2:])
            if not ok:
                return None
            parts.append((arrays[0][rows], arrays[1][rows], owes, owed))
        return parts

    half = len(batches) // 2
    with ThreadPoolExecutor(2) as pool:  # half the batches each (a task per batch cost more than it gave)
        halves = list(pool.map(scan, (batches[:half], batches[half:])))
    if any(part is None for part in halves):
        return None
    parts = halves[0] + halves[1]
    columns = [np.concatenate([part[k] for part in parts]) if parts else np.empty(0, dtype)
               for k, dtype in enumerate((np.int64, np.int32, np.bool_, np.int64))]
    return pa.table([pa.array(columns[0]), pa.array(columns[1]).view(pa.date32()), pa.array(columns[2]),
                     pa.array(columns[3])], schema=WINDOW)


def _values(array: pa.Array) -> np.ndarray:
    """A fixed-width array without nulls as numpy, read in place (dates as their days since 1970)."""
    width = np.int32 if pa.types.is_date32(array.type) else np.dtype(array.type.to_pandas_dtype())
    return np.frombuffer(array.buffers()[1], width, len(array), array.offset * np.dtype(width).itemsize)


@numba.njit(cache=True, nogil=True)
def _minus(a: int, b: int) -> tuple[int, bool]:
    """a - b and whether it fits int64 (it wraps silently otherwise)."""
    result = a - b
    return result, ((a ^ b) & (a ^ result)) >= 0


@numba.njit(cache=True, nogil=True)
def _plus(a: int, b: int) -> tuple[int, bool]:
    result = a + b
    return result, ((a ^ result) & (b ^ result)) >= 0


@numba.njit(cache=True, nogil=True)
def _scan(due, lo, p, d, pd, ps, id_, is_, fd, fs, cd, cs):  # noqa: ANN001, ANN202
    """The rows of one batch in the window: their places, ``owes`` (what the four components still owe > 0) and ``owed``
    (interest, fee and cost still owed), summed in the SQL's order; ok false when a step overflows."""
    m = 0
    for r in range(len(due)):  # counted first: an array as long as the batch would cost its pages' faults
        m += lo <= due[r] <= d
    rows, m = np.empty(m, np.int64), 0
    for r in range(len(due)):
        if lo <= due[r] <= d:
            rows[m] = r
            m += 1
    # column by column: the loads of one column do not wait on each other (the rows are far apart: a cache miss each)
    pd, ps, id_, is_, fd, fs, cd, cs = pd[rows], ps[rows], id_[rows], is_[rows], fd[rows], fs[rows], cd[rows], cs[rows]
    owes, owed = np.empty(m, np.bool_), np.empty(m, np.int64)
    keep, ok = 0, True
    for k in range(m):
        op, ok1 = _minus(pd[k], ps[k])
        oi, ok2 = _minus(id_[k], is_[k])
        of, ok3 = _minus(fd[k], fs[k])
        oc, ok4 = _minus(cd[k], cs[k])
        a, ok5 = _plus(op, oi)
        b, ok6 = _plus(a, of)
        owing, ok7 = _plus(b, oc)
        c, ok8 = _plus(oi, of)
        rest, ok9 = _plus(c, oc)
        ok = ok and ok1 and ok2 and ok3 and ok4 and ok5 and ok6 and ok7 and ok8 and ok9
        if due[rows[k]] > p or owing > 0:
            rows[keep], owes[keep], owed[keep] = rows[k], owing > 0, rest
            keep += 1
    return rows[:keep], owes[:keep], owed[:keep], ok
