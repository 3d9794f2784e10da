"""The continued loans' snapshot rows and transitions on D, from the compiled pass's sums (docs/eod.md, Incremental
run): what ``outputs.state_sql``, ``cmp_sql`` and ``TRANSITIONS`` give for them, vectorised over the loans.

A continued loan is known, its seqs decided, not rejected and not restructured (``carry.CONTINUABLE``), so of the
state's rules only these apply: no floor and no observation, its levels those of its dpd
(``eod_grades``), its total outstanding its outstanding principal, what is owed and its open penalty, fully paid
when nothing is owing and no penalty is open. Its transitions compare that row with its row of P, as ``cmp_sql``
does. ``tests/delinquency/test_incremental_carry.py`` compares the outputs with full runs.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.delinquency import columns
from arrears.delinquency.model import SNAPSHOT, TRANSITION_KINDS, TRANSITIONS

# The transitions' kinds in their output order within a loan (alphabetical, as ``outputs.TRANSITIONS`` sorts them).
KINDS = tuple(sorted(TRANSITION_KINDS))


def outputs(tail: pa.Table, sums: np.ndarray, catalogue: dict[str, pa.Table], top: int,
            business_date: date) -> tuple[pa.Table, pa.Table]:
    """The snapshot rows and transitions of the loans of ``tail`` (ordered by loan_id: ``continued.tail_sql``'s
    columns, with their row of P) given ``sums``, their per-loan sums of the pass (dpd, overdue principal, interest
    and fee, …, penalty due, open penalty: ``continued._kernel``'s ``per_loan``)."""
    names = catalogue["eod_names"].column("name").combine_chunks()
    grades = _grades(catalogue["eod_grades"], top)
    level_no, level_idx, first = _levels(catalogue["eod_levels"], len(names))
    prod = tail.column("prod_no").to_numpy()
    dpd = sums[:, 0]
    key = np.minimum(dpd, top)
    bucket_idx, bucket_no, tier_no, m_no, class_idx = (grades[k][prod, key] for k in range(5))
    class_no = level_no[1][prod, class_idx]
    pen_due, pen_open = sums[:, 6], sums[:, 7]
    principal = tail.column("outstanding_principal").to_numpy()
    owed = tail.column("owed").to_numpy()
    total = principal + owed + pen_open
    fully_paid = tail.column("all_settled").to_numpy(zero_copy_only=False) & (pen_open == 0)
    n = tail.num_rows
    day = columns.one_date(business_date, n)
    snapshot = pa.table([
        day, tail.column("loan_id"), tail.column("borrower_id"), names.take(pa.array(prod)),
        pa.array(dpd.astype(np.int32)), pa.array(sums[:, 1]), pa.array(sums[:, 2]), pa.array(sums[:, 3]),
        pa.array(pen_open), pa.array(pen_due), pa.array(principal), pa.array(total),
        names.take(pa.array(bucket_no)), names.take(pa.array(tier_no)), names.take(pa.array(m_no)),
        names.take(pa.array(class_no)), pa.array(np.zeros(n, np.bool_)), pa.array(fully_paid),
    ], schema=SNAPSHOT)
    # their row of P (cmp_sql): a level code the product's scheme does not know is its first level for the bucket's
    # direction and a change of class; a null class is the first level
    p_dpd = pc.fill_null(tail.column("p_dpd"), 0).to_numpy()  # null: no row of P (a new loan), as cmp_sql's coalesce
    p_paid = pc.fill_null(tail.column("p_fully_paid"), False).to_numpy(zero_copy_only=False)
    p_bucket_no = _numbers(tail.column("p_bucket"), names)
    p_class_no = _numbers(tail.column("p_classification"), names)
    p_bucket_idx = np.maximum(level_idx[0][prod, _column(p_bucket_no)], 0)
    p_class_idx = np.where(p_class_no == _NULL, 0, level_idx[1][prod, _column(p_class_no)])  # -1: never equal
    moved = (((p_dpd == 0) != (dpd == 0)) | (p_bucket_idx != bucket_idx) | (p_class_idx != class_idx)
             | (~p_paid & fully_paid))
    p_bucket = np.where(p_bucket_no == _NULL, first[0][prod], p_bucket_no)
    p_class = np.where(p_class_no == _NULL, first[1][prod], p_class_no)
    when = {"became_overdue": (p_dpd == 0) & (dpd > 0), "bucket_down": bucket_idx < p_bucket_idx,
            "bucket_up": bucket_idx > p_bucket_idx, "class_changed": _differ(p_class, class_no, tail, names),
            "cured": (p_dpd > 0) & (dpd == 0), "fully_paid": ~p_paid & fully_paid}
    rows, kinds = [], []
    for o, kind in enumerate(KINDS):  # a loop over the six kinds, not loans
        rows.append(np.flatnonzero(moved & when[kind]))
        kinds.append(np.full(len(rows[-1]), o, np.int64))
    row, kind = np.concatenate(rows), np.concatenate(kinds)
    order = np.lexsort((kind, row))  # by loan (rows are in loan_id order), then kind
    row, kind = row[order], kind[order]
    return snapshot, _transitions(row, kind, day, tail, dpd, p_dpd, bucket_no, p_bucket, class_no, p_class,
                                  tail.column("p_bucket"), tail.column("p_classification"), names)


_NULL = -2  # the name number of a null code; -1: a code that is not a name


def _numbers(codes: pa.ChunkedArray, names: pa.Array) -> np.ndarray:
    """Each code's number in ``names`` (-1: not a name, ``_NULL``: null)."""
    found = pc.index_in(codes, value_set=names)
    return pc.if_else(pc.is_null(codes), _NULL, pc.fill_null(found, -1)).to_numpy(zero_copy_only=False).astype(
        np.int64)


def _column(numbers: np.ndarray) -> np.ndarray:
    """A name number as the column of ``_levels``' [prod_no, name number] arrays: the last (-1) for no name."""
    return np.where(numbers < 0, -1, numbers)


def _differ(p_class: np.ndarray, class_no: np.ndarray, tail: pa.Table, names: pa.Array) -> np.ndarray:
    """P's class code (its own text when it is not a name) differs from D's."""
    unknown = p_class == -1
    same = p_class == class_no
    if unknown.any():  # compared as text, as cmp_sql does
        text = pc.fill_null(tail.column("p_classification"), "").to_numpy(zero_copy_only=False)
        same[unknown] = text[unknown] == np.asarray(names.take(pa.array(class_no[unknown])).to_pylist(), object)
    return ~same


def _grades(grades: pa.Table, top: int) -> list[np.ndarray]:
    """bucket_idx, bucket_no, tier_no, m_no and class_idx as dense [prod_no, dpd_key] arrays."""
    prod = grades.column("prod_no").to_numpy()
    key = grades.column("dpd_key").to_numpy()
    out = []
    for name in ("bucket_idx", "bucket_no", "tier_no", "m_no", "class_idx"):
        dense = np.full((int(prod.max(initial=-1)) + 1, top + 1), -1, np.int64)
        dense[prod, key] = grades.column(name).to_numpy()
        out.append(dense)
    return out


def _levels(levels: pa.Table, n_names: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per scheme (bucket, class): the name number of each [prod_no, idx], the idx of each [prod_no, name number]
    (-1: not the product's; the last column stands for a code that is not a name), and each product's first level's
    name number."""
    prod = levels.column("prod_no").to_numpy()
    idx = levels.column("idx").to_numpy()
    no = levels.column("no").to_numpy()
    scheme = levels.column("scheme").to_numpy(zero_copy_only=False)
    n_prod = int(prod.max(initial=-1)) + 1
    level_no, level_idx, first = [], [], []
    for name in ("bucket", "class"):
        mine = scheme == name
        by_idx = np.full((n_prod, int(idx.max(initial=-1)) + 1), -1, np.int64)
        by_idx[prod[mine], idx[mine]] = no[mine]
        by_no = np.full((n_prod, n_names + 1), -1, np.int64)  # [:, -1]: a code that is not a name
        by_no[prod[mine], no[mine]] = idx[mine]
        level_no.append(by_idx)
        level_idx.append(by_no)
        first.append(by_idx[:, 0])
    return level_no, level_idx, first


def _transitions(row: np.ndarray, kind: np.ndarray, day: pa.Array, tail: pa.Table, dpd: np.ndarray,
                 p_dpd: np.ndarray, bucket_no: np.ndarray, p_bucket: np.ndarray, class_no: np.ndarray,
                 p_class: np.ndarray, p_bucket_text: pa.ChunkedArray, p_class_text: pa.ChunkedArray,
                 names: pa.Array) -> pa.Table:
    """The transition rows (``row``: the loan's place in ``tail``, ``kind``: its index in ``KINDS``) with their from
    and to values as ``outputs.TRANSITIONS`` writes them."""
    taken = pa.array(row)
    as_text = {"dpd": pc.cast(pa.array(dpd[row]), pa.string()), "p_dpd": pc.cast(pa.array(p_dpd[row]), pa.string()),
               "bucket": names.take(pa.array(bucket_no[row])), "classification": names.take(pa.array(class_no[row])),
               "p_bucket": _code(p_bucket[row], p_bucket_text.take(taken), names),
               "p_class": _code(p_class[row], p_class_text.take(taken), names),
               "false": pa.array(np.full(len(row), "false", object), pa.string()),
               "true": pa.array(np.full(len(row), "true", object), pa.string())}
    pairs = [("p_dpd", "dpd"), ("p_bucket", "bucket"), ("p_bucket", "bucket"), ("p_class", "classification"),
             ("p_dpd", "dpd"), ("false", "true")]  # by KINDS
    before = pc.choose(pa.array(kind), *(as_text[b] for b, _ in pairs))
    after = pc.choose(pa.array(kind), *(as_text[a] for _, a in pairs))
    return pa.table([day.take(taken), tail.column("loan_id").take(taken),
                     pa.array(np.asarray(KINDS, object)[kind], pa.string()), before, after], schema=TRANSITIONS)


def _code(numbers: np.ndarray, text: pa.ChunkedArray, names: pa.Array) -> pa.Array:
    """P's level as text: its name, or P's own text where it is not a name (``-1``)."""
    named = names.take(pa.array(np.maximum(numbers, 0)))
    return pc.if_else(pa.array(numbers == -1), text.combine_chunks() if len(text) else pa.array([], pa.string()),
                      named)
