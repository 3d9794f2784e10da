"""The continued loans' penalties, sums and outputs on D, compiled (docs/eod.md, Incremental run).

A loan continued from its kept rows (``sql/carry.py``) changes only by the days passed, but its ≈ 8 instalment
rows still go through the penalty's arithmetic every day: at 1M loans ≈ 1.4M rows, which DuckDB's statements
(``carry.di_sql``, ``detail.unc_sql``, ``dl_sql``, ``room_sql``, ``over_sql``, ``pen_sql``, ``plo_sql``) read, join
and store in ≈ 0.35 s. ``compute`` does the same integers in one compiled pass over the kept rows — the rules of
docs/eod.md (Penalty, Caps, Floor, dpd and the overdue amounts), expression for expression — and from its per-loan
sums ``continued_state`` gives the loans' snapshot rows and transitions. It also takes the loans recomputed today
that it can (``carry.passed_sql``), from the rows kept for them today. Neither ``prepare`` nor ``compute`` reads the
run's connection: the run calls them on a thread of its own (``evaluate``), and ``compute`` can cut the loans in
ranges evaluated on threads side by side.

Exact integers in int64: where a product, a sum or a rounding might not fit (the engine's HUGEINT cases, or a ratio
beyond int64) it returns None and the run takes the SQL path, which ``tests/delinquency/test_incremental_carry.py``
runs too. Those tests compare both paths with full runs.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.delinquency import columns, continued_state
from arrears.delinquency.model import PENALTIES
from arrears.delinquency.sql.detail import SMALL  # a rounding's a and b below it: 2·a + b fits int64

EPOCH = date(1970, 1, 1)

_ROW_COLUMNS = ("loan_id", "seq", "spen", "kind", "compound", "eff", "g", "open_p", "open_i", "open_f", "card_owed",
                "wsp", "wsi", "as_of")
_RATIOS = ("pen_num", "pen_den", "fee_num", "fee_den", "cap_num", "cap_den")

# The loans the pass evaluates, with what the cap's room and their snapshot row read of their pre row: today's pid, the
# as_of of their kept rows, what is used of the cap, their outstanding principal, what is owed, ... The continued
# loans (``continued_tail``; their kept rows of P) are evaluated while the recomputed loans' first steps run; then
# those recomputed today that the pass can take (``passed_sql``; their kept rows of today).
TAIL = ("loan_id", "pid", "as_of", "used", "borrower_id", "prod_no", "outstanding_principal", "owed", "all_settled")


def continued_tail(kept_pre: pa.Table) -> pa.Table:
    """The continued loans' ``TAIL``, by loan_id: P's kept pre rows of the loans kept, those marked ``tail``."""
    tail = kept_pre.filter(kept_pre.column("tail")).select(list(TAIL))
    return tail if columns.ordered(ints(tail.column("loan_id"))) else tail.sort_by("loan_id")


def passed_sql(d: str) -> str:
    return f"""
SELECT p.loan_id, p.pid, {d} AS as_of, CAST(p.used AS BIGINT) AS used, p.borrower_id, p.prod_no,
       CAST(p.outstanding_principal AS BIGINT) AS outstanding_principal, CAST(p.owed AS BIGINT) AS owed, p.all_settled
FROM eod_pre_new p SEMI JOIN eod_passed s ON s.loan_id = p.loan_id
ORDER BY loan_id"""


# ... what they read of other tables, by loan_id: the loan's principal and disbursement (the cap's room), and its row
# of P, which their transitions compare with (``continued_state``).
_LOOKED_UP = {"eod_loans": {"principal_fen": "principal_fen", "disbursed_on": "disbursed_on"},
              "eod_previous": {"dpd": "p_dpd", "bucket": "p_bucket", "classification": "p_classification",
                               "fully_paid": "p_fully_paid"}}


@dataclass(frozen=True)
class Prepared:
    """What the pass reads (``prepare``): its loans with what they read of other tables, the parameters and their
    ratios, the kept rows."""
    tail: pa.Table
    params: pa.Table
    ratios: list[np.ndarray]
    kept_di: pa.Table
    catalogue: dict[str, pa.Table]
    top: int


def evaluate(tail: pa.Table, kept_di: pa.Table, tables: dict[str, pa.Table], catalogue: dict[str, pa.Table],
             top: int, business_date: date, parts: int) -> dict[str, pa.Table] | None:
    """``compute`` of what ``prepare`` gives, or None when either declines. Reads no connection: the run calls it on a
    thread of its own, beside its SQL."""
    prepared = prepare(tail, kept_di, tables, catalogue, top)
    return compute(prepared, business_date, parts) if prepared is not None else None


def prepare(tail: pa.Table, kept_di: pa.Table, tables: dict[str, pa.Table], catalogue: dict[str, pa.Table],
            top: int) -> Prepared | None:
    """What ``compute`` reads for the loans of ``tail`` (``TAIL``, by loan_id: ``continued_tail`` or ``passed_sql``'s
    rows): with their loans' and their rows of P's snapshot (``tables``, the inputs; none for a new loan), the
    parameters (``catalogue``); ``kept_di`` holds their di rows. None when a ratio or an amount may not fit int64 as
    the pass needs (the caller then runs the SQL)."""
    for name, wanted in _LOOKED_UP.items():
        tail = _looked_up(tail, tables[name], wanted)
    params = catalogue["eod_params"].select(["pid", "mode", "has_cap", *_RATIOS]).sort_by("pid")
    ratios = _ratios(params)
    if ratios is None or any(tail.column(c).null_count for c in TAIL):
        return None
    if not all(_all_small(tail.column(c)) for c in ("outstanding_principal", "owed")):  # their sum with the penalty
        return None
    pids = params.column("pid").to_numpy()
    if not np.array_equal(pids, np.arange(len(pids))):  # pids index the parameter arrays
        return None
    return Prepared(tail, params, ratios, kept_di, catalogue, top)


def compute(prepared: Prepared, business_date: date, parts: int) -> dict[str, pa.Table] | None:
    """The pass's loans' rows of the snapshot, the penalties and the transitions outputs, each ordered by loan_id (and
    seq, kind), from their kept di rows (those of their pre row's ``as_of``). None when an amount may not fit int64
    (the caller then runs the SQL). Reads no connection: the run may call it on a thread of its own; it cuts the
    loans in ``parts`` ranges evaluated side by side (the kernels release the GIL)."""
    kept_di = prepared.kept_di
    cuts = np.linspace(0, prepared.tail.num_rows, parts + 1).astype(np.int64)
    ranges = [prepared.tail.slice(lo, hi - lo) for lo, hi in pairwise(cuts)]
    with ThreadPoolExecutor(parts) as pool:  # the columns joined side by side too (numpy copies without the GIL)
        rows = dict(zip(_ROW_COLUMNS, pool.map(lambda c: _two_parts(kept_di.column(c), ints), _ROW_COLUMNS)))
        valid = {c: _two_parts(kept_di.column(c), _valid) for c in ("eff", "card_owed", "wsp", "wsi")}
        done = list(pool.map(lambda tail: _part(prepared, tail, rows, valid, business_date), ranges))
    if any(part is None for part in done):
        return None
    return {name: pa.concat_tables([part[name] for part in done]) for name in ("snapshot", "penalties", "transitions")}


def laid_out(kept_di: pa.Table) -> pa.Table:
    """The kept di rows as the pass reads them (``_two_parts``): its first chunk in place, the others joined every
    day — so all are joined into one chunk, once, when the others are more than a quarter of the rows (a full run's
    chunks, a compaction's, a store's row groups, or a few days' recomputed loans added)."""
    chunks = kept_di.column("loan_id").chunks
    rest = kept_di.num_rows - (len(chunks[0]) if chunks else 0)
    return kept_di.combine_chunks() if 4 * rest > kept_di.num_rows else kept_di


def _two_parts(column: pa.ChunkedArray, values: Callable[[pa.ChunkedArray], np.ndarray]) -> tuple[np.ndarray, ...]:
    """A kept row column's ``values`` (``ints`` or ``_valid``) in two parts for the kernel: its first chunk, read in
    place, and the other chunks joined — the rows kept since the first were, a few days' recomputed loans
    (``laid_out`` joins them all once they are a quarter of the whole); all joined in the first when it is not the
    larger part (a copy of every row: 40 ms a day at 1M loans, on top of the pass)."""
    chunks = [chunk for chunk in column.chunks if len(chunk)]
    if chunks and 2 * len(chunks[0]) >= len(column):
        first, rest = values(pa.chunked_array(chunks[:1], column.type)), values(pa.chunked_array(chunks[1:], column.type))
    else:
        first, rest = values(column), values(pa.chunked_array([], column.type))
    for part in (first, rest):  # one numba type for both (a tuple indexed at run time must be uniform)
        part.flags.writeable = False
    return first, rest


def _part(prepared: Prepared, tail: pa.Table, rows: dict[str, tuple[np.ndarray, ...]],
          valid: dict[str, tuple[np.ndarray, ...]],
          business_date: date) -> dict[str, pa.Table] | None:
    """``compute`` for the loans of ``tail``, a range of them (every kept row is read: the others' are passed over)."""
    params = prepared.params
    loan_ids = ints(tail.column("loan_id"))
    out = _kernel(
        np.int32((business_date - EPOCH).days),
        loan_ids, ints(tail.column("as_of")), ints(tail.column("pid")),
        ints(tail.column("used")), ints(tail.column("principal_fen")), _valid(tail.column("principal_fen")),
        ints(tail.column("disbursed_on")), _valid(tail.column("disbursed_on")),
        rows["loan_id"], rows["seq"], rows["spen"], rows["kind"], rows["compound"], rows["eff"], valid["eff"],
        rows["g"], rows["open_p"], rows["open_i"], rows["open_f"], rows["card_owed"], valid["card_owed"],
        rows["wsp"], valid["wsp"], rows["wsi"], valid["wsi"], rows["as_of"],
        params.column("mode").to_numpy(), params.column("has_cap").to_numpy(zero_copy_only=False),
        *prepared.ratios)
    ok, _, per_loan, row_out = out
    if not ok:
        return None
    owner, due, seq = row_out
    _, order = _by_loan_and_seq(owner, (owner >= 0) & (due > 0), seq, len(loan_ids))
    penalties = pa.table([pa.array(loan_ids[owner[order]]), pa.array(seq[order].astype(np.int32)),
                          pa.array(due[order])], schema=PENALTIES)
    snapshot, transitions = continued_state.outputs(tail, per_loan, prepared.catalogue, prepared.top, business_date)
    return {"snapshot": snapshot, "penalties": penalties, "transitions": transitions}


def _all_small(column: pa.ChunkedArray) -> bool:
    values = ints(column)
    return bool(np.all((values > -SMALL) & (values < SMALL)))


def _looked_up(tail: pa.Table, table: pa.Table, wanted: dict[str, str]) -> pa.Table:
    """``tail`` (ordered by loan_id) with ``wanted`` columns of its loans' rows in ``table`` (as their aliases; null
    for a loan without one): found by one merge of the two orders when ``table`` is ordered by loan_id (the inputs
    and P's snapshot usually are: a join would read every row of it), else by a join."""
    ids, loans = ints(table.column("loan_id")), ints(tail.column("loan_id"))
    if len(ids) and table.column("loan_id").null_count == 0 and columns.ordered(ids):
        at = np.minimum(owners(ids, loans), len(ids) - 1)
        found = ids[at] == loans
        for name, alias in wanted.items():
            tail = tail.append_column(alias, _taken(table.column(name), at, found))
        return tail
    found = table.select(["loan_id", *wanted]).rename_columns(["loan_id", *wanted.values()])
    return tail.join(found, "loan_id", join_type="left outer").sort_by("loan_id")


def _taken(column: pa.ChunkedArray, at: np.ndarray, found: np.ndarray) -> pa.ChunkedArray:
    """The values of ``column`` at the increasing positions ``at`` (null where not ``found``), chunk by chunk: a take
    from the chunked column would resolve each position's chunk, and joining the chunks copies every value."""
    parts, start = [], 0
    for chunk in column.chunks:  # a loop over chunks, not loans
        lo, hi = np.searchsorted(at, start), np.searchsorted(at, start + len(chunk))
        if hi > lo:
            parts.append(chunk.take(pa.array(at[lo:hi] - start, mask=~found[lo:hi])))
        start += len(chunk)
    return pa.chunked_array(parts, column.type)


def merged_by_loan(recomputed: pa.Table, continued: pa.Table) -> pa.Table:
    """Two tables of one schema, each ordered by loan_id (a loan's rows in their order) and of different loans, as
    one ordered so: each recomputed row placed by binary search among the continued ones, one take."""
    if not recomputed.num_rows or not continued.num_rows:
        return recomputed if continued.num_rows == 0 else continued
    n = recomputed.num_rows
    at = np.searchsorted(continued.column("loan_id").to_numpy(), recomputed.column("loan_id").to_numpy()) + np.arange(n)
    rest = np.ones(n + continued.num_rows, np.bool_)
    rest[at] = False
    index = np.empty(len(rest), np.int64)
    index[at] = np.arange(n)
    index[rest] = n + np.arange(continued.num_rows)

    def column(ours: pa.ChunkedArray, theirs: pa.ChunkedArray) -> pa.Array:
        if pa.types.is_integer(ours.type) and not ours.null_count and not theirs.null_count:
            mine = ints(ours)
            values = np.empty(len(rest), mine.dtype)  # scattered by numpy: a take resolves each row's chunk
            values[at], values[rest] = mine, ints(theirs)
            return pa.array(values, ours.type)
        return pa.chunked_array(ours.chunks + theirs.chunks, ours.type).take(pa.array(index)).combine_chunks()

    return pa.table([column(a, b) for a, b in zip(recomputed.columns, continued.columns)], schema=recomputed.schema)


def ints(column: pa.ChunkedArray) -> np.ndarray:
    """A column's values as one numpy array of its own width (dates as days since 1970, booleans as bytes), the
    null slots' values unspecified (``_valid`` says which are null): one copy, the chunks' buffers read in place."""
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    if pa.types.is_boolean(column.type):
        return column.to_numpy(zero_copy_only=False).view(np.uint8)
    width = np.dtype(column.type.to_pandas_dtype())
    parts = [np.frombuffer(chunk.buffers()[1], width, len(chunk), chunk.offset * width.itemsize)
             for chunk in column.chunks if len(chunk)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, width)


def _valid(column: pa.ChunkedArray) -> np.ndarray:
    if not column.null_count:
        return np.ones(len(column), np.bool_)
    return pc.is_valid(column).to_numpy(zero_copy_only=False)


def _ratios(params: pa.Table) -> list[np.ndarray] | None:
    """The six ratio columns (decimal text, one row per product and rate: a loop over those, not loans) as int64,
    or None when one does not fit below ``SMALL``."""
    columns = []
    for name in _RATIOS:
        values = [int(v) for v in params.column(name).to_pylist()]
        if any(abs(v) >= SMALL for v in values):
            return None
        columns.append(np.array(values, np.int64))
    return columns


@numba.njit(cache=True, nogil=True)
def _round(a: int, b: int, mode: int) -> int:
    """round(a / b) under the product's mode, for any sign of a and b > 0 (``detail.signed_round``)."""
    if a == 0:
        return 0
    negative = a < 0
    if negative:
        a = -a
    if mode == 0:  # half up
        q = (2 * a + b) // (2 * b)
    elif mode == 1:  # half even
        q, r = a // b, a % b
        if 2 * r > b or (2 * r == b and q % 2 == 1):
            q += 1
    elif mode == 2:  # down
        q = a // b
    else:  # up
        q = (a + b - 1) // b
    return -q if negative else q


@numba.njit(cache=True, nogil=True)
def _fits_product(a: int, b: int) -> bool:
    """|a × b| < SMALL: by the operands' bounds where they settle it (a division costs as much as the rest of a row)."""
    if -2**30 < a < 2**30 and -2**30 < b < 2**30:
        return True
    if (-2**20 < b < 2**20 and -2**40 < a < 2**40) or (-2**20 < a < 2**20 and -2**40 < b < 2**40):
        return True
    if a == 0 or b == 0:
        return True
    if a <= -SMALL or a >= SMALL or b <= -SMALL or b >= SMALL:
        return False
    return abs(a) <= (SMALL - 1) // abs(b)


@numba.njit(cache=True, nogil=True)
def _small(a: int) -> bool:
    return -SMALL < a < SMALL


@numba.njit(cache=True, nogil=True)
def _by_loan_and_seq(owner, chosen, seq, n_loans):  # noqa: ANN001, ANN202
    """The ``chosen`` rows grouped by loan (``owner``, the place of the row's loan among the sorted loan_ids) and
    ordered by seq within each: counted by loan, then each loan's few rows by seq (an insertion sort). Returns each
    loan's start in the order (n_loans + 1 of them) and the order."""
    start = np.zeros(n_loans + 1, np.int64)
    for r in range(len(owner)):
        if chosen[r]:
            start[owner[r] + 1] += 1
    start = np.cumsum(start)
    order, fill = np.empty(start[-1], np.int64), start[:-1].copy()
    for r in range(len(owner)):
        if chosen[r]:
            order[fill[owner[r]]] = r
            fill[owner[r]] += 1
    for t in range(n_loans):
        for k in range(start[t] + 1, start[t + 1]):
            r, j = order[k], k - 1
            while j >= start[t] and seq[order[j]] > seq[r]:
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = r
    return start, order


@numba.njit(cache=True, nogil=True)
def owners(t_loan, r_loan):  # noqa: ANN001, ANN202
    """Each row's place in the sorted ``t_loan`` (where it would be, if it is not there), in a new array."""
    owner = np.empty(len(r_loan), np.int64)
    owners_into(t_loan, r_loan, owner)
    return owner


@numba.njit(cache=True, nogil=True)
def owners_into(t_loan, r_loan, owner):  # noqa: ANN001, ANN202
    """``owners`` written into ``owner``: by a table over t_loan's span when that is not much more than the rows (a
    range of loans, as usual: one read a row), else by binary search (≈ 18 random reads a row)."""
    n = len(t_loan)
    if n == 0 or t_loan[-1] - t_loan[0] > 4 * (n + len(r_loan)) + 1024:
        owner[:] = np.searchsorted(t_loan, r_loan)
        return
    low, high = t_loan[0], t_loan[-1]
    place = np.empty(high - low + 1, np.int32)
    t = 0
    for loan in range(low, high + 1):
        while t_loan[t] < loan:
            t += 1
        place[loan - low] = t
    for r in range(len(r_loan)):
        loan = r_loan[r]
        owner[r] = 0 if loan < low else (n if loan > high else place[loan - low])


@numba.njit(cache=True, nogil=True)
def _rows(d, first, t_loan, t_as_of, t_pid, owner, row_seq, count, per_loan, uncapped,
          r_loan, r_seq, r_kind, r_compound, r_eff, r_eff_ok, r_g, r_open_p, r_open_i, r_open_f, r_card, r_card_ok,
          r_wsp, r_wsp_ok, r_wsi, r_wsi_ok, r_as_of, q_mode, q_pen_num, q_pen_den, q_fee_num,
          q_fee_den):  # noqa: ANN001, ANN202
    """``_kernel``'s first loop over the rows of one part, row r of the part being row ``first + r`` of the whole: the
    uncapped penalty (detail.unc_sql), dpd and the overdue amounts (dl_sql). Plain arrays: one taken from the parts'
    tuple by an index known only at run time costs a reference count each read (1.4M rows: 269 ms, 188 this way)."""
    n_loans, ok = len(t_loan), True
    for i in range(len(r_loan)):
        r = first + i
        row_seq[r] = r_seq[i]
        t = owner[r]
        if not (t < n_loans and t_loan[t] == r_loan[i] and r_as_of[i] == t_as_of[t]):
            owner[r] = -1
            continue
        pid = t_pid[t]
        mode = q_mode[pid]
        late = d - r_eff[i]
        past_due = r_eff_ok[i] and late > r_g[i]
        open_p, open_i, open_f = r_open_p[i], r_open_i[i], r_open_f[i]
        if not (_small(open_p) and _small(open_i) and _small(open_f)):
            ok = False
        w_p = r_wsp[i] if r_wsp_ok[i] else 0
        w_i = r_wsi[i] if r_wsi_ok[i] else 0
        if past_due and open_p > 0:
            if not _fits_product(open_p, late):
                ok = False
            w_p += open_p * late
        if past_due and open_i > 0:
            if not _fits_product(open_i, late):
                ok = False
            w_i += open_i * late
        if not (_small(w_p) and _small(w_i)):
            ok = False
        kind, compound = r_kind[i], r_compound[i]
        value = 0
        if kind == 1:
            if not _fits_product(w_p, q_pen_num[pid]) or (compound and not _fits_product(w_i, q_pen_num[pid])):
                ok = False
            if w_p != 0 or (compound and w_i != 0):
                value = _round(w_p * q_pen_num[pid], q_pen_den[pid], mode)
                if compound:
                    value += _round(w_i * q_pen_num[pid], q_pen_den[pid], mode)
        elif kind == 2 and past_due:
            if not r_card_ok[i]:
                ok = False
            base = max(0, r_card[i])
            if not _fits_product(base, q_fee_num[pid]):
                ok = False
            if base != 0:
                value = _round(base * q_fee_num[pid], q_fee_den[pid], mode)
        uncapped[r] = value
        if past_due:
            if open_p + open_i + open_f > 0 and late > per_loan[t, 0]:
                per_loan[t, 0] = late
            per_loan[t, 1] += open_p
            per_loan[t, 2] += open_i
            per_loan[t, 3] += open_f
        per_loan[t, 4] += value
        per_loan[t, 5] = value if count[t] == 0 or value < per_loan[t, 5] else per_loan[t, 5]
        count[t] += 1
        for k in range(1, 5):
            if not _small(per_loan[t, k]):
                ok = False
    return ok


@numba.njit(cache=True, nogil=True)
def _kernel(d, t_loan, t_as_of, t_pid, t_used, t_principal, t_principal_ok, t_disbursed, t_disbursed_ok,
            r_loan, r_seq, r_spen, r_kind, r_compound, r_eff, r_eff_ok, r_g, r_open_p, r_open_i, r_open_f,
            r_card, r_card_ok, r_wsp, r_wsp_ok, r_wsi, r_wsi_ok, r_as_of,
            q_mode, q_has_cap, q_pen_num, q_pen_den, q_fee_num, q_fee_den, q_cap_num,
            q_cap_den):  # noqa: ANN001, ANN202
    """Rows in their stored order (sequential reads), each row column in two parts (``_two_parts``: row r is the
    first part's r-th, or the second's r - n_first-th); the per-loan sums by the row's loan. Returns ok, each loan's
    row count, the per-loan sums (dpd, op, oi, of, Σ uncapped, lowest, pen_due, pen_open) and per row its loan
    (-1: not a continued loan's), penalty_due and seq. One array holds each row's uncapped penalty, then its capped,
    then its due, each value read before it is written: a fresh array costs its pages' faults (a copy and a zeroed
    array fewer, of 11 MB each at 1M loans: the kernel 197 → 174 ms on the same rows)."""
    n_loans, n_first = len(t_loan), len(r_loan[0])
    n_rows = n_first + len(r_loan[1])
    owner = np.empty(n_rows, np.int64)  # one array for both parts, not two joined
    owners_into(t_loan, r_loan[0], owner[:n_first])
    owners_into(t_loan, r_loan[1], owner[n_first:])
    row_seq = np.empty(n_rows, np.int64)
    count = np.zeros(n_loans, np.int64)
    per_loan = np.zeros((n_loans, 8), np.int64)  # dpd, op, oi, of, total_unc, lowest, pen_due, pen_open
    uncapped = np.zeros(n_rows, np.int64)
    ok = True
    for p in range(2):
        first = 0 if p == 0 else n_first
        ok &= _rows(d, first, t_loan, t_as_of, t_pid, owner, row_seq, count, per_loan, uncapped,
                    r_loan[p], r_seq[p], r_kind[p], r_compound[p], r_eff[p], r_eff_ok[p], r_g[p], r_open_p[p],
                    r_open_i[p], r_open_f[p], r_card[p], r_card_ok[p], r_wsp[p], r_wsp_ok[p], r_wsi[p], r_wsi_ok[p],
                    r_as_of[p], q_mode, q_pen_num, q_pen_den, q_fee_num, q_fee_den)
    over = np.zeros(n_loans, np.bool_)  # the loans whose cap bites (room_sql, over_sql)
    room = np.zeros(n_loans, np.int64)
    for t in range(n_loans):
        pid = t_pid[t]
        if q_has_cap[pid] and count[t] > 0:
            if not (t_principal_ok[t] and t_disbursed_ok[t] and _small(t_used[t])):
                ok = False
            days = d - t_disbursed[t]
            base = t_principal[t] * q_cap_num[pid]
            if not (_fits_product(t_principal[t], q_cap_num[pid]) and _fits_product(base, days)):
                ok = False
            room[t] = max(0, _round(base * days, q_cap_den[pid], q_mode[pid]) - t_used[t])
            over[t] = per_loan[t, 4] > room[t] or per_loan[t, 5] < 0
    due = uncapped  # uncapped, then capped, then due, in place
    if over.any():  # the room given out in seq order (pen_sql's window): those loans' rows, sorted by seq
        chosen = np.zeros(n_rows, np.bool_)
        for r in range(n_rows):
            chosen[r] = owner[r] >= 0 and over[owner[r]]
        start, order = _by_loan_and_seq(owner, chosen, row_seq, n_loans)
        for t in range(n_loans):
            before = 0
            for k in range(start[t], start[t + 1]):
                r = order[k]
                value = due[r]
                due[r] = min(value, max(0, room[t] - before))
                before += value
            if not _small(before):
                ok = False
    for p in range(2):
        ok &= _floor(0 if p == 0 else n_first, r_spen[p], owner, due, per_loan)
    return ok, count, per_loan, (owner, due, row_seq)


@numba.njit(cache=True, nogil=True)
def _floor(first, spen, owner, due, per_loan):  # noqa: ANN001, ANN202
    """``_kernel``'s last loop over the rows of one part (as ``_rows``): the floor — what is paid is never taken
    back — and the penalty sums (dl_sql, plo_sql)."""
    ok = True
    for i in range(len(spen)):
        r, t = first + i, owner[first + i]
        if t >= 0:
            due[r] = max(due[r], spen[i])
            per_loan[t, 6] += due[r]
            per_loan[t, 7] += due[r] - spen[i]
            if not (_small(per_loan[t, 6]) and _small(per_loan[t, 7])):
                ok = False
    return ok
