"""The columnar engine (docs/eod.md) on hand-checked examples, a few per rule.

Products (catalog/*.yaml): internet_loan (grace 1, holiday rule none so E = due_on, markup 0.50, no compound,
cap 24 %, seed3 buckets, cbirc2023), micro_business_loan (grace 3, next business day, markup 0.40, compound,
no cap, M-buckets), credit_card (grace 3, 违约金 5 %, card2011). The day basis is 360 for all three.
2025-03-10 and 2025-04-10 are ordinary weekdays, so E = due_on under either holiday rule.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import duckdb
import pyarrow as pa
import pytest
from portfolios import CATALOG, Loan, inputs, tweaked, previous_row

from arrears.delinquency import reference
from arrears.delinquency.engine import run
from arrears.delinquency.model import PENALTIES, REJECTED, SNAPSHOT, TRANSITIONS
from arrears.errors import InvalidInput

D = date
MARCH = D(2025, 3, 10)


def outputs(loans: list[Loan], d: date, catalog=CATALOG, previous: list[dict] | None = None, **kwargs):
    return run(inputs(loans, d, previous), d, catalog, **kwargs)


def one(loan: Loan, d: date, catalog=CATALOG) -> tuple[dict, dict[int, int]]:
    """The loan's snapshot row and its penalties by seq."""
    out = outputs([loan], d, catalog)
    assert out.rejected.num_rows == 0, out.rejected.to_pylist()
    [snap] = out.snapshot.to_pylist()
    return snap, {p["seq"]: p["penalty_due_fen"] for p in out.penalties.to_pylist()}


# ---- dpd, overdue and outstanding amounts ----------------------------------------------------------------

def test_dpd_counts_from_e_once_grace_has_passed_and_overdue_amounts_are_what_past_due_instalments_owe():
    loan = Loan("internet_loan", [(MARCH, 100_000, 2_000, 300, 700), (D(2025, 4, 10), 100_000, 1_500)])
    assert one(loan, D(2025, 3, 11))[0]["dpd"] == 0  # 1 day after E: in grace
    snap, penalties = one(loan, D(2025, 3, 12))
    assert (snap["dpd"], snap["overdue_principal_fen"], snap["overdue_interest_fen"], snap["overdue_fee_fen"]) == (
        2, 100_000, 2_000, 1_000)
    # P = 0.12 × 1.5 / 360 a day: 100,000 × 2 days → 100 fen
    assert penalties == {1: 100}
    # the April interest is not owed yet: total = principal 200,000 + March 2,000 + 1,000 + penalty 100
    assert (snap["outstanding_principal_fen"], snap["total_outstanding_fen"]) == (200_000, 203_100)
    assert not snap["fully_paid"]


def test_dpd_is_from_the_oldest_instalment_still_owing():
    rows = [(D(2025, 2, 10), 50_000, 0), (MARCH, 50_000, 0), (D(2025, 4, 10), 50_000, 0)]
    loan = Loan("internet_loan", rows, paid=[(1, "principal", 50_000, D(2025, 2, 11))])  # in grace
    snap, penalties = one(loan, D(2025, 4, 12))
    assert snap["dpd"] == 33  # seq 2 since 03-10; seq 3 is 2 days late, but seq 2 is older
    assert penalties == {2: 50_000 * 33 // 2000, 3: 50}  # 825 and 50,000 × 2 × 0.0005


def test_settlements_after_the_business_date_are_not_seen():
    loan = Loan("internet_loan", [(MARCH, 100_000, 0)], paid=[(1, "principal", 100_000, D(2025, 3, 25)),
                                                              (7, "tip", 5, D(2025, 3, 26))])
    snap, _ = one(loan, D(2025, 3, 20))
    assert (snap["dpd"], snap["outstanding_principal_fen"]) == (10, 100_000)
    paid, penalties = one(loan, D(2025, 3, 25))  # the tip is still in the future
    assert (paid["dpd"], paid["outstanding_principal_fen"], penalties) == (0, 0, {1: 750})


# ---- penalty ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("principal", [10**16, 2**61 // 300, 10**17 + 7])
def test_penalties_too_large_for_bigint_arithmetic_are_exact(principal):
    """W × P's numerator passes 2**61 (BIGINT's safe range for the rounding): HUGEINT takes over, to the fen."""
    loan = Loan("internet_loan", [(MARCH, principal, 0)])
    d = MARCH + timedelta(days=300)
    ours, theirs = run(inputs([loan], d), d, CATALOG), reference.evaluate(inputs([loan], d), d, CATALOG)
    assert ours.penalties.to_pylist() == theirs.penalties.to_pylist()
    # W = principal × 300 days from E (= due_on); P = 0.12 × 1.5 / 360 = 1 / 2000, rounded half up
    assert ours.penalties.column("penalty_due_fen").to_pylist() == [(principal * 300 + 1000) // 2000]


def test_principal_chunks_weigh_days_from_e_only_when_late():
    # paid 40,000 on day 1 (in grace: free), 20,000 on day 5 (late: 5 days), 40,000 still owed on day 10
    loan = Loan("internet_loan", [(MARCH, 100_000, 0)],
                paid=[(1, "principal", 40_000, D(2025, 3, 11)), (1, "principal", 20_000, D(2025, 3, 15))])
    # W = 20,000 × 5 + 40,000 × 10 = 500,000; × 0.18 / 360 = 250
    assert one(loan, D(2025, 3, 20))[1] == {1: 250}


def test_compound_penalty_on_interest_chunks():
    loan = Loan("micro_business_loan", [(MARCH, 72_000, 3_600)], rate="0.10")
    # P = 0.10 × 1.4 = 0.14: principal 72,000 × 10 × 0.14 / 360 = 280; interest 3,600 × 10 → 14
    snap, penalties = one(loan, D(2025, 3, 20))
    assert penalties == {1: 294} and snap["overdue_penalty_fen"] == 294
    paid_interest = dataclasses.replace(loan, paid=[(1, "interest", 3_600, D(2025, 3, 12))])
    assert one(paid_interest, D(2025, 3, 20))[1] == {1: 280}  # interest paid within grace


@pytest.mark.parametrize(("mode", "small", "large"), [("half_up", 1, 2), ("half_even", 0, 2), ("down", 0, 1),
                                                      ("up", 1, 2)])
def test_each_instalment_rounds_once_in_the_product_mode(mode, small, large):
    # 2 days late at 0.0005 a day: 500 → 0.5 fen, 1,500 → 1.5 fen
    loan = Loan("internet_loan", [(MARCH, 500, 0), (MARCH, 1_500, 0)])
    assert one(loan, D(2025, 3, 12), tweaked("internet_loan", rounding=mode))[1] == {
        seq: fen for seq, fen in ((1, small), (2, large)) if fen}


def test_card_default_fee_on_the_minimum_unpaid_at_the_end_of_grace():
    card = Loan("credit_card", [(MARCH, 50_000, 5_000)], rate="0.1825",
                paid=[(1, "principal", 20_000, D(2025, 3, 12)), (1, "principal", 10_000, D(2025, 3, 20))])
    assert one(card, D(2025, 3, 13))[1] == {}  # E + 3: in grace
    snap, penalties = one(card, D(2025, 3, 25))
    # minimum 55,000, paid by 03-13 only 20,000 → 5 % of 35,000
    assert penalties == {1: 1_750}
    assert (snap["dpd"], snap["overdue_principal_fen"], snap["overdue_interest_fen"]) == (15, 20_000, 5_000)


def test_penalty_kind_none_charges_nothing():
    catalog = tweaked("internet_loan", penalty=CATALOG.products["internet_loan"].penalty.model_copy(
        update={"kind": "none"}))
    snap, penalties = one(Loan("internet_loan", [(MARCH, 100_000, 0)]), D(2025, 5, 1), catalog)
    assert penalties == {} and snap["dpd"] == 52 and snap["penalty_due_fen"] == 0


# internet_loan at 24 %: P = 0.36 / 360 = 0.001 a day; disbursed 2025-01-10, fee 1,000 on seq 1
CAPPED = [(D(2025, 2, 10), 50_000, 0, 1_000), (MARCH, 50_000, 0)]


def test_cap_room_goes_to_instalments_in_seq_order_and_the_floor_keeps_a_settled_penalty():
    loan = Loan("internet_loan", CAPPED, rate="0.24")
    # 2025-06-10: seq 1 120 days → 6,000; seq 2 92 days → 4,600; Σ 10,600.
    # allowed = 100,000 × 0.24 × 151 / 365 = 9,928.77 → 9,929; used = the fee 1,000 → room 8,929.
    snap, penalties = one(loan, D(2025, 6, 10))
    assert penalties == {1: 6_000, 2: 2_929}
    assert (snap["dpd"], snap["bucket"], snap["tier"], snap["m_bucket"], snap["classification"]) == (
        120, "severe", "severe", "M4", "substandard")
    assert snap["total_outstanding_fen"] == 100_000 + 1_000 + 8_929
    # 3,000 of seq 2's penalty was paid: more than its capped 2,929, so it stays at 3,000
    paid = dataclasses.replace(loan, paid=[(2, "penalty", 3_000, D(2025, 6, 1))])
    snap, penalties = one(paid, D(2025, 6, 10))
    assert penalties == {1: 6_000, 2: 3_000}
    assert (snap["penalty_due_fen"], snap["overdue_penalty_fen"]) == (9_000, 6_000)


def test_a_backdated_payment_lowers_the_penalty_but_never_below_what_was_settled():
    loan = Loan("internet_loan", [(MARCH, 100_000, 0)],
                paid=[(1, "penalty", 500, D(2025, 3, 20)), (1, "principal", 100_000, D(2025, 3, 11))])
    snap, penalties = one(loan, D(2025, 3, 25))
    assert penalties == {1: 500}  # recomputed 0 (paid within grace), 500 kept
    assert (snap["dpd"], snap["penalty_due_fen"], snap["overdue_penalty_fen"], snap["fully_paid"]) == (
        0, 500, 0, True)


# ---- levels ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("product", "dpd", "bucket", "tier", "m_bucket", "classification"), [
    ("internet_loan", 30, "mild", "mild", "M1", "special_mention"),
    ("internet_loan", 31, "moderate", "moderate", "M2", "special_mention"),
    ("internet_loan", 91, "severe", "severe", "M4", "substandard"),
    ("internet_loan", 400, "severe", "severe", "M7", "loss"),
    ("credit_card", 121, "M5", "severe", "M5", "doubtful"),
    ("micro_business_loan", 181, "M7", "severe", "M7", "substandard"),
])
def test_levels_from_dpd(product, dpd, bucket, tier, m_bucket, classification):
    loan = Loan(product, [(MARCH, 100_000, 0)], rate="0.1825" if product == "credit_card" else "0.12")
    snap = one(loan, MARCH + timedelta(days=dpd))[0]
    assert (snap["dpd"], snap["bucket"], snap["tier"], snap["m_bucket"], snap["classification"]) == (
        dpd, bucket, tier, m_bucket, classification)


# ---- restructured loans ----------------------------------------------------------------------------------

def restructured(late: dict[int, date]) -> Loan:
    """internet_loan restructured on 2025-03-01: 14 instalments of 10,000 due on the 10th from 2025-03-10,
    each paid on its due date unless ``late`` says otherwise. obs_start = 2025-03-10, obs_end = 2026-03-10."""
    dues = [D(2025 + (2 + k) // 12, (2 + k) % 12 + 1, 10) for k in range(14)]
    paid = [(seq, "principal", 10_000, late.get(seq, due)) for seq, due in enumerate(dues, 1)]
    return Loan("internet_loan", [(due, 10_000, 0) for due in dues], paid=paid, disbursed=D(2025, 1, 10),
                restructured=D(2025, 3, 1))


@pytest.mark.parametrize(("late", "d", "in_observation", "classification"), [
    ({}, D(2025, 5, 1), True, "special_mention"),
    ({2: D(2025, 4, 15)}, D(2025, 6, 20), True, "substandard"),  # missed during observation
    ({}, D(2026, 3, 20), False, "normal"),  # over, nothing missed
    ({12: D(2026, 2, 20)}, D(2026, 3, 20), False, "substandard"),  # one period paid since, 38 days
    ({12: D(2026, 2, 20)}, D(2026, 4, 15), False, "normal"),  # two periods paid on time since the miss
    ({1: D(2025, 3, 20)}, D(2026, 3, 20), False, "normal"),
])
def test_restructured_observation(late, d, in_observation, classification):
    snap = one(restructured(late), d)[0]
    assert (snap["dpd"], snap["in_observation"], snap["classification"]) == (0, in_observation, classification)


# ---- transitions -----------------------------------------------------------------------------------------

def test_transitions_against_the_previous_snapshot():
    owing = Loan("internet_loan", [(MARCH, 100_000, 0)])  # dpd 10 on 03-20
    paid = dataclasses.replace(owing, paid=[(1, "principal", 100_000, MARCH)])
    loans = [dataclasses.replace(ln, loan_id=k) for k, ln in ((8, owing), (4, paid), (6, owing), (2, paid))]
    previous = [previous_row(6, 0, "current", "normal"), previous_row(4, 12, "mild", "special_mention"),
                previous_row(2, 0, "current", "normal", fully_paid=True), previous_row(77, 5, "mild", "normal")]
    out = outputs(loans, D(2025, 3, 20), previous=previous)
    assert [(t["loan_id"], t["kind"], t["from_value"], t["to_value"]) for t in out.transitions.to_pylist()] == [
        (4, "bucket_down", "mild", "current"), (4, "class_changed", "special_mention", "normal"),
        (4, "cured", "12", "0"), (4, "fully_paid", "false", "true"),
        (6, "became_overdue", "0", "10"), (6, "bucket_up", "current", "mild"),
        (6, "class_changed", "normal", "special_mention"),
        (8, "became_overdue", "0", "10"), (8, "bucket_up", "current", "mild"),  # new: first levels
        (8, "class_changed", "normal", "special_mention")]
    assert set(out.transitions.column("business_date").to_pylist()) == {D(2025, 3, 20)}


# ---- rejections ------------------------------------------------------------------------------------------

BASE = Loan("internet_loan", [(D(2025, 2, 10), 50_000, 500), (MARCH, 50_000, 400)],
            paid=[(1, "interest", 500, D(2025, 2, 10)), (1, "principal", 50_000, D(2025, 2, 10))])


@pytest.mark.parametrize(("change", "reason"), [
    ({"product": "payday_loan"}, "unknown_product"),
    ({"seqs": [1, 3]}, "seq_not_1_to_n"),
    ({"seqs": [2, 2]}, "seq_not_1_to_n"),
    ({"principal": 99_999}, "principal_sum_mismatch"),
    ({"principal": 99_999, "paid": [*BASE.paid, (5, "fee", 1, D(2025, 3, 1))]}, "principal_sum_mismatch"),
    ({"rows": [BASE.rows[0], (MARCH, 50_000, 400, 0, -5)]}, "negative_due"),
    ({"paid": [*BASE.paid, (2, "fee", 0, D(2025, 1, 9))]}, "settlement_before_disbursement"),
    ({"paid": [*BASE.paid, (3, "interest", 1, D(2025, 3, 1))]}, "settlement_unknown_seq"),
    ({"paid": [*BASE.paid, (2, "tip", 1, D(2025, 3, 1))]}, "settlement_unknown_component"),
    ({"paid": [*BASE.paid, (2, "interest", 401, D(2025, 3, 1))]}, "over_settled"),
    ({"paid": [*BASE.paid, (1, "principal", 1, D(2025, 3, 1))]}, "over_settled"),  # two rows, 50,001
])
def test_rejected_loans_are_named_and_left_out(change, reason):
    bad = dataclasses.replace(BASE, loan_id=2, **change)
    out = outputs([dataclasses.replace(bad, loan_id=2), dataclasses.replace(BASE, loan_id=1)], D(2025, 3, 20),
                  previous=[previous_row(2, 0, "current", "normal")])
    assert out.rejected.to_pylist() == [{"loan_id": 2, "reason": reason}]
    assert out.snapshot.column("loan_id").to_pylist() == [1]
    assert 2 not in out.penalties.column("loan_id").to_pylist() + out.transitions.column("loan_id").to_pylist()


def test_more_than_63_instalments():
    rows = [(D(2025, 2, 10) + timedelta(days=30 * k), 1_000, 0) for k in range(70)]
    long = Loan("internet_loan", rows, paid=[(1, "principal", 1_000, D(2025, 2, 10))])
    snap, penalties = one(long, D(2025, 3, 20))  # seq 2 (03-12) is 8 days late
    assert (snap["dpd"], snap["outstanding_principal_fen"], penalties) == (8, 69_000, {2: 4})
    repeated = dataclasses.replace(long, loan_id=2, seqs=[*range(1, 65), 64, *range(66, 71)])
    assert outputs([repeated], D(2025, 3, 20)).rejected.to_pylist() == [{"loan_id": 2, "reason": "seq_not_1_to_n"}]


# ---- the run ---------------------------------------------------------------------------------------------

def test_outputs_have_the_model_schemas_and_orders():
    loans = [dataclasses.replace(BASE, loan_id=k) for k in (9, 3, 5)]
    out = outputs(loans, D(2025, 3, 20))
    assert (out.snapshot.schema, out.penalties.schema, out.transitions.schema, out.rejected.schema) == (
        SNAPSHOT, PENALTIES, TRANSITIONS, REJECTED)
    assert out.snapshot.column("loan_id").to_pylist() == [3, 5, 9]
    assert out.penalties.to_pylist() == [{"loan_id": k, "seq": 2, "penalty_due_fen": 250} for k in (3, 5, 9)]


def test_an_empty_portfolio():
    out = outputs([], D(2025, 3, 20))
    assert [t.num_rows for t in (out.snapshot, out.penalties, out.transitions, out.rejected)] == [0, 0, 0, 0]


def test_missing_effective_due_dates_or_a_future_business_date_refuse_the_run():
    ins = inputs([BASE], D(2025, 3, 20))
    with pytest.raises(InvalidInput, match="due_dates"):
        run(dataclasses.replace(ins, due_dates=ins.due_dates.slice(0, 0)), D(2025, 3, 20), CATALOG)
    with pytest.raises(InvalidInput, match="after today"):
        run(ins, D(2025, 3, 20), CATALOG, today=D(2025, 3, 19))


def test_a_callers_connection_is_left_as_it_was():
    con = duckdb.connect()
    con.execute("CREATE TABLE mine AS SELECT 1 AS x")
    out = outputs([BASE], D(2025, 3, 20), con=con)
    assert out.snapshot.num_rows == 1
    names = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert names == {"mine"}
    assert con.sql("SELECT current_setting('disabled_optimizers')").fetchall() == [("",)]


def test_no_float_reaches_the_outputs():
    out = outputs([BASE], D(2025, 3, 20))
    for table in (out.snapshot, out.penalties):
        assert not any(pa.types.is_floating(f.type) or pa.types.is_decimal(f.type) for f in table.schema)


@pytest.mark.parametrize("loan_id", [-5, 0, 2**56 - 1, 2**56, 2**62])
def test_any_loan_id_gives_the_same_results(loan_id):
    """Nothing depends on the size or sign of loan_id (a guard for integer join keys built from it), for a
    plain loan (paid on time) and a detail loan (overdue) alike."""
    paid_on_time = dataclasses.replace(BASE, paid=[*BASE.paid, (2, "interest", 400, MARCH),
                                                   (2, "principal", 50_000, MARCH)])  # a plain loan
    for loan in (BASE, paid_on_time):
        expected = outputs([loan], D(2025, 3, 20))
        moved = outputs([dataclasses.replace(loan, loan_id=loan_id)], D(2025, 3, 20))
        assert moved.rejected.num_rows == 0
        for name in ("snapshot", "penalties", "transitions"):
            rows = [{**r, "loan_id": 1} for r in getattr(moved, name).to_pylist()]
            assert rows == getattr(expected, name).to_pylist(), name
