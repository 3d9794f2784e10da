"""The compiled pass over the continued loans (``continued.py``): its rounding is the engine's (arrears.money's
modes, either sign), its overflow guard says exactly whether a product fits, and each kept row finds its loan
whichever way the loans are looked up; its penalty rows and the SQL's are placed as one sort would. That the whole
pass equals a full run is ``test_incremental_carry.py``'s (both paths)."""

from decimal import Decimal, localcontext

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.delinquency.continued import SMALL, _fits_product, _round, merged_by_loan, owners
from arrears.delinquency.model import PENALTIES
from arrears.loans.schedules_sql import MODE_CODES
from arrears.money import round_fen

LIMIT = 2**63 - 1


@settings(max_examples=1000, deadline=None)
@given(st.integers(-(SMALL - 1), SMALL - 1),
       st.one_of(st.integers(1, SMALL - 1), st.integers(1, 2**20), st.sampled_from([1, 2, 3, 7, 360, 365, 100000])),
       st.sampled_from(sorted(MODE_CODES)))
def test_the_rounding_is_round_fen_of_the_exact_ratio(a, b, mode):
    # the engine's modes are symmetric about zero (detail.signed_round): round_fen of |a| / b, with its sign
    with localcontext(prec=80):  # precise enough: a fraction that is not one half is 1 / (2b) or more from it
        magnitude = round_fen(Decimal(abs(a)) / Decimal(b), mode)
    assert _round(a, b, MODE_CODES[mode]) == (-magnitude if a < 0 else magnitude)


_operand = st.one_of(st.integers(-LIMIT, LIMIT), st.integers(-2**32, 2**32),
                     st.sampled_from([0, 1, -1, 2**20, 2**30, 2**40, 2**41, SMALL - 1, SMALL, -SMALL]))


@settings(max_examples=2000, deadline=None)
@given(_operand, _operand)
def test_the_guard_says_exactly_whether_a_product_fits(a, b):
    assert _fits_product(a, b) == (abs(a * b) < SMALL)


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 3000), max_size=200), st.lists(st.integers(-50, 3050), max_size=300),
       st.sampled_from([1, 10**9]))
def test_each_row_finds_its_loan_by_either_lookup(loans, rows, spread):
    # spread 1: the loans span little more than the rows (a table of the span); 10**9: binary search
    t_loan = np.array(sorted(loans), np.int64) * spread
    r_loan = np.array(rows, np.int64) * spread
    owner = owners(t_loan, r_loan)
    for loan, t in zip(r_loan, owner):
        found = 0 <= t < len(t_loan) and t_loan[t] == loan
        assert found == (loan in set(t_loan.tolist()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(1, 400), st.tuples(st.booleans(), st.lists(st.integers(1, 60), min_size=1,
                                                                              max_size=6, unique=True))))
def test_the_penalties_placed_by_loan_equal_one_sort(loans):
    # each loan's rows from one side or the other (recomputed or continued), each side ordered by loan_id and seq
    sides = {True: [], False: []}
    for loan_id, (recomputed, seqs) in sorted(loans.items()):
        sides[recomputed] += [(loan_id, seq, loan_id * 100 + seq) for seq in sorted(seqs)]
    tables = {side: pa.table({"loan_id": pa.array([r[0] for r in rows], pa.int64()),
                              "seq": pa.array([r[1] for r in rows], pa.int32()),
                              "penalty_due_fen": pa.array([r[2] for r in rows], pa.int64())}, schema=PENALTIES)
              for side, rows in sides.items()}
    merged = merged_by_loan(tables[True], tables[False])
    expected = pa.concat_tables([tables[True], tables[False]]).sort_by([("loan_id", "ascending"), ("seq", "ascending")])
    assert merged.equals(expected)
