"""The per-loan reference (docs/eod.md): hand-checked examples of every rule, then properties of portfolios.

Products used (catalog/*.yaml): internet_loan (grace 1, holiday none, markup 0.50, no compound, cap 24%,
seed3 buckets), micro_business_loan (grace 3, next business day, markup 0.40, compound, no cap, M-buckets),
credit_card (grace 3, 违约金 5%, card2011), consumer_loan (grace 3, next business day, M-buckets).
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portfolios import CATALOG, Loan, inputs, portfolios, small_portfolios, tweaked, previous_row

from arrears.delinquency.reference import evaluate, run
from arrears.errors import InvalidInput

D = date
PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


def one(loan: Loan, d: date, catalog=CATALOG) -> tuple[dict, dict[int, int]]:
    """The loan's snapshot row and its penalties by seq."""
    out = evaluate(inputs([loan], d), d, catalog)
    assert out.rejected.num_rows == 0, out.rejected.to_pylist()
    [snap] = out.snapshot.to_pylist()
    return snap, {p["seq"]: p["penalty_due_fen"] for p in out.penalties.to_pylist()}


# ---- days past due ---------------------------------------------------------------------------------

def test_dpd_counts_from_the_effective_due_date_once_grace_has_passed():
    loan = Loan("internet_loan", [(D(2025, 3, 10), 100_000, 2_000, 500, 2_000)])  # a Monday; grace 1
    assert one(loan, D(2025, 3, 11))[0]["dpd"] == 0  # 1 day: still in grace
    snap = one(loan, D(2025, 3, 12))[0]  # 2 > 1: overdue, counted from day one
    overdue = (snap["overdue_principal_fen"], snap["overdue_interest_fen"], snap["overdue_fee_fen"])
    assert (snap["dpd"], overdue) == (2, (100_000, 2_000, 2_500))  # fee 500 + cost 2,000
    assert one(loan, D(2025, 3, 11), tweaked("internet_loan", grace_days=0))[0]["dpd"] == 1


def test_holiday_rule_moves_the_due_date_to_the_next_business_day():
    # consumer_loan: grace 3, next_business_day. Saturday 2025-03-15 → E = Monday 03-17.
    loan = Loan("consumer_loan", [(D(2025, 3, 15), 100_000, 1_000)])
    assert one(loan, D(2025, 3, 20))[0]["dpd"] == 0  # 3 days after E
    assert one(loan, D(2025, 3, 21))[0]["dpd"] == 4  # not 6 (from the Saturday)
    # Spring Festival 2026: Sunday 02-15, holidays 02-16..02-20 and 02-23, weekend 21–22 → E = Tuesday 02-24.
    festival = Loan("consumer_loan", [(D(2026, 2, 15), 100_000, 1_000)], disbursed=D(2026, 1, 10))
    assert one(festival, D(2026, 2, 27))[0]["dpd"] == 0
    assert one(festival, D(2026, 2, 28))[0]["dpd"] == 4
    # internet_loan has holiday_rule none: E = 02-15, so 13 days on 02-28.
    assert one(dataclasses.replace(festival, product="internet_loan"), D(2026, 2, 28))[0]["dpd"] == 13


def test_dpd_is_from_the_oldest_instalment_still_owing_and_future_interest_is_not_owed():
    loan = Loan("internet_loan", [(D(2025, 2, 10), 50_000, 900), (D(2025, 3, 10), 50_000, 800),
                                  (D(2025, 4, 10), 50_000, 700)],
                paid=[(1, "interest", 900, D(2025, 2, 20)), (1, "principal", 50_000, D(2025, 2, 20))])
    snap = one(loan, D(2025, 3, 20))[0]
    assert snap["dpd"] == 10  # seq 1 was paid (late); seq 2 owes since 03-10
    assert snap["outstanding_principal_fen"] == 100_000
    # 100,000 principal + seq 2's interest 800 (seq 3's 700 is not owed yet) + penalty.
    # Penalty: seq 1 chunk 50,000 × 10 days, seq 2 chunk 50,000 × 10 days at P = 0.12 × 1.5 = 0.18 / 360:
    # 500,000 × 0.18 / 360 = 250 each.
    assert snap["penalty_due_fen"] == 500 and snap["total_outstanding_fen"] == 100_000 + 800 + 500


# ---- penalty -------------------------------------------------------------------------------------------

MICRO = [(D(2025, 4, 10), 1_000_000, 30_000)]  # a Thursday; grace 3; P = 0.12 × 1.40 = 0.168, B = 360


def test_principal_paid_within_grace_costs_nothing():
    loan = Loan("micro_business_loan", MICRO, paid=[(1, "interest", 30_000, D(2025, 4, 10)),
                                                     (1, "principal", 1_000_000, D(2025, 4, 13))])
    snap, penalties = one(loan, D(2025, 5, 1))
    assert penalties == {} and snap["dpd"] == 0 and snap["fully_paid"]


def test_principal_chunks_after_grace_count_from_the_effective_due_date():
    loan = Loan("micro_business_loan", MICRO, paid=[(1, "interest", 30_000, D(2025, 4, 10)),
                                                     (1, "principal", 400_000, D(2025, 4, 14))])
    snap, penalties = one(loan, D(2025, 4, 30))
    # W = 400,000 × 4 (paid on day 4, past grace: all 4 days) + 600,000 × 20 = 13,600,000;
    # 13,600,000 × 0.168 / 360 = 6,346.67 → 6,347.
    assert penalties == {1: 6_347}
    assert (snap["dpd"], snap["overdue_principal_fen"], snap["total_outstanding_fen"]) == (
        20, 600_000, 606_347)


def test_compound_interest_on_interest_chunks():
    loan = Loan("micro_business_loan", MICRO, paid=[(1, "principal", 400_000, D(2025, 4, 14)),
                                                     (1, "interest", 10_000, D(2025, 4, 20))])
    # principal part 6,347 as above; interest W = 10,000 × 10 + 20,000 × 20 = 500,000
    # → 500,000 × 0.168 / 360 = 233.33 → 233.
    snap, penalties = one(loan, D(2025, 4, 30))
    assert penalties == {1: 6_347 + 233}
    assert snap["overdue_interest_fen"] == 20_000 and snap["overdue_penalty_fen"] == 6_580
    # internet_loan has compound: false — only principal counts (P = 0.18: 13,600,000 × 0.18 / 360 = 6,800).
    internet = dataclasses.replace(loan, product="internet_loan", disbursed=D(2024, 1, 10))  # cap far off
    assert one(internet, D(2025, 4, 30))[1] == {1: 6_800}


@pytest.mark.parametrize(("mode", "low", "high"), [("half_up", 4, 11), ("half_even", 4, 10), ("down", 3, 10),
                                                   ("up", 4, 11)])
def test_penalty_rounds_once_with_the_product_mode(mode, low, high):
    # 5 days late (> grace 3): W = 1,500 × 5 = 7,500 → 1,260/360 = 3.5; W = 4,500 × 5 = 22,500 → 10.5.
    catalog = tweaked("micro_business_loan", rounding=mode)
    for principal, expected in ((1_500, low), (4_500, high)):
        loan = Loan("micro_business_loan", [(D(2025, 4, 10), principal, 0)])
        assert one(loan, D(2025, 4, 15), catalog)[1] == {1: expected}


def test_card_default_fee_once_per_cycle_on_the_minimum_unpaid_by_the_end_of_grace():
    card = Loan("credit_card", [(D(2025, 6, 20), 10_000, 1_500), (D(2025, 7, 21), 9_000, 1_400)],
                paid=[(1, "principal", 5_000, D(2025, 6, 19)), (1, "interest", 1_500, D(2025, 6, 30))],
                rate="0.1825", disbursed=D(2025, 5, 20))
    assert one(card, D(2025, 6, 23))[1] == {}  # E + 3: still in grace
    # cycle 1: minimum 11,500, paid by 06-23 only 5,000 (the interest came late) → 5% × 6,500 = 325.
    assert one(card, D(2025, 6, 24))[1] == {1: 325}
    # cycle 2 (Monday 07-21, nothing paid): 5% × 10,400 = 520. A month later: the same, once per cycle.
    snap, penalties = one(card, D(2025, 8, 20))
    assert penalties == {1: 325, 2: 520} == one(card, D(2025, 9, 20))[1]
    assert (snap["dpd"], snap["m_bucket"], snap["classification"]) == (61, "M3", "special_mention")
    half = dataclasses.replace(card, paid=[(1, "principal", 4_990, D(2025, 6, 19))])
    assert one(half, D(2025, 6, 24))[1] == {1: 326}  # 5% × 6,510 = 325.5 → 326


# internet_loan at 18%: P = 0.18 × 1.5 = 0.27; cap 24% a year from disbursement 2025-01-01.
CAPPED = [(D(2025, 2, 1), 500_000, 15_000), (D(2025, 3, 1), 500_000, 7_500)]


def test_total_cost_cap_binds_and_the_room_goes_to_instalments_in_seq_order():
    loan = Loan("internet_loan", CAPPED, rate="0.18", disbursed=D(2025, 1, 1))
    # 2025-06-30: seq 1 149 days late → 500,000 × 149 × 0.27 / 360 = 55,875; seq 2 121 days → 45,375.
    # allowed = 1,000,000 × 0.24 × 180 / 365 = 118,356.16 → 118,356; used = 22,500 interest; room 95,856.
    snap, penalties = one(loan, D(2025, 6, 30))
    assert penalties == {1: 55_875, 2: 95_856 - 55_875}
    assert snap["penalty_due_fen"] == 95_856
    # A fee of 60,000 on seq 1 uses more of the cap: room = 118,356 − 82,500 = 35,856, all to seq 1.
    fee = dataclasses.replace(loan, rows=[(*CAPPED[0], 60_000), CAPPED[1]])
    assert one(fee, D(2025, 6, 30))[1] == {1: 35_856}
    # 2025-05-01: seq 1 89 days → 33,375, seq 2 61 days → 22,875, Σ 56,250;
    # room = round(1,000,000 × 0.24 × 120 / 365) − 22,500 = 78,904 − 22,500 = 56,404: the cap does not bind.
    assert one(loan, D(2025, 5, 1))[1] == {1: 33_375, 2: 22_875}


def test_a_new_instalment_falling_due_can_shrink_the_room_so_the_capped_penalty_falls():
    loan = Loan("internet_loan", [CAPPED[0], (*CAPPED[1], 20_000)], rate="0.18", disbursed=D(2025, 1, 1))
    # 02-28: seq 1 27 days → 10,125; room = round(240,000 × 58/365) − 15,000 = 38,137 − 15,000: not binding.
    assert one(loan, D(2025, 2, 28))[1] == {1: 10_125}
    # 03-01: seq 2 falls due, used = 15,000 + 7,500 + 20,000 = 42,500 > allowed 38,795: room 0.
    assert one(loan, D(2025, 3, 1))[1] == {}


def test_floor_keeps_a_penalty_already_settled():
    # as in the cap example, but 45,000 of seq 2's penalty (uncapped 45,375) was paid on 06-20.
    loan = Loan("internet_loan", CAPPED, rate="0.18", disbursed=D(2025, 1, 1),
                paid=[(2, "penalty", 45_000, D(2025, 6, 20))])
    snap, penalties = one(loan, D(2025, 6, 30))
    assert penalties == {1: 55_875, 2: 45_000}  # capped 39,981, but 45,000 was settled
    assert (snap["penalty_due_fen"], snap["overdue_penalty_fen"]) == (100_875, 55_875)


# ---- buckets and classification ---------------------------------------------------------------------

# product dpd tier m_bucket classification; bucket is tier for internet_loan (seed3), else m_bucket
LEVELS = """
internet_loan 0 current M0 normal              | internet_loan 30 mild M1 special_mention
internet_loan 31 moderate M2 special_mention   | internet_loan 60 moderate M2 special_mention
internet_loan 61 severe M3 special_mention     | internet_loan 90 severe M3 special_mention
internet_loan 91 severe M4 substandard         | internet_loan 270 severe M7 substandard
internet_loan 271 severe M7 doubtful           | internet_loan 360 severe M7 doubtful
internet_loan 361 severe M7 loss               | consumer_loan 91 severe M4 substandard
credit_card 90 severe M3 special_mention       | credit_card 91 severe M4 substandard
credit_card 120 severe M4 substandard          | credit_card 121 severe M5 doubtful
credit_card 180 severe M6 doubtful             | credit_card 181 severe M7 loss
"""


@pytest.mark.parametrize("case", [c.split() for line in LEVELS.strip().splitlines() for c in line.split("|")])
def test_level_boundaries(case):
    product, dpd, tier, m_bucket, classification = case[0], int(case[1]), *case[2:]
    due = D(2024, 3, 1)  # a Friday, a business day: E = due_on under either holiday rule
    snap = one(Loan(product, [(due, 100_000, 1_000)], disbursed=D(2024, 1, 20)), due + timedelta(days=dpd))[0]
    bucket = tier if product == "internet_loan" else m_bucket
    assert (snap["dpd"], snap["bucket"], snap["tier"], snap["m_bucket"], snap["classification"]) == (
        dpd, bucket, tier, m_bucket, classification)


# ---- restructured loans ---------------------------------------------------------------------------------

def restructured(late: dict[date, date | None] | None = None, rows: list[date] | None = None) -> Loan:
    """internet_loan restructured on 2024-06-15, 60,000 + 1,000 due on the 1st of each month from 2024-05-01;
    each paid on its due date unless ``late`` says otherwise (None: never). obs_start = 2024-07-01,
    obs_end = max(2024-07-01 + 365, E of the 2nd instalment after = 2024-08-01) = 2025-07-01."""
    late = late or {}
    dues = rows or [D(2024 + (4 + k) // 12, (4 + k) % 12 + 1, 1) for k in range(20)]
    paid = [(seq, c, a, late.get(due, due)) for seq, due in enumerate(dues, 1)
            for c, a in (("interest", 1_000), ("principal", 60_000)) if late.get(due, due) is not None]
    return Loan("internet_loan", [(due, 60_000, 1_000) for due in dues], paid=paid, disbursed=D(2024, 4, 1),
                restructured=D(2024, 6, 15))


LATE_AFTER = {D(2025, 6, 1): D(2025, 6, 10), **{D(2025, m, 1): D(2025, m, 6) for m in range(7, 12)}}


@pytest.mark.parametrize(("late", "d", "dpd", "in_observation", "classification"), [
    ({}, D(2024, 6, 20), 0, True, "special_mention"),  # before obs_start: in observation already
    ({}, D(2024, 9, 15), 0, True, "special_mention"),
    ({D(2024, 8, 1): D(2024, 8, 2)}, D(2024, 9, 15), 0, True, "special_mention"),  # within grace: not missed
    ({D(2024, 8, 1): D(2024, 8, 5)}, D(2024, 9, 15), 0, True, "substandard"),  # paid late: missed
    ({D(2024, 9, 1): None}, D(2024, 9, 15), 14, True, "substandard"),  # past due, unpaid: missed
    ({}, D(2025, 6, 30), 0, True, "special_mention"),
    ({}, D(2025, 7, 1), 0, False, "normal"),  # observation over, no miss: no floor
    # a miss in the window (06-01, paid late); after it, 07-01 on time: 1 period of 2 → floor stays
    ({D(2025, 6, 1): D(2025, 6, 10)}, D(2025, 7, 1), 0, False, "substandard"),
    ({D(2025, 6, 1): D(2025, 6, 10)}, D(2025, 8, 1), 0, False, "normal"),  # 07-01 and 08-01 on time
    # later instalments paid late (5 days): recovery only by days, 182 after 06-01 is 11-30
    (LATE_AFTER, D(2025, 11, 29), 0, False, "substandard"), (LATE_AFTER, D(2025, 11, 30), 0, False, "normal"),
    # ... and only once dpd = 0: 11-01 unpaid → dpd 29 (special mention), the floor holds
    (LATE_AFTER | {D(2025, 11, 1): None}, D(2025, 11, 30), 29, False, "substandard"),
])
def test_restructured_observation_floors(late, d, dpd, in_observation, classification):
    snap = one(restructured(late), d)[0]
    assert (snap["dpd"], snap["in_observation"], snap["classification"]) == (
        dpd, in_observation, classification)


def test_observation_lasts_to_the_second_instalment_after_restructuring_when_that_is_later():
    loan = restructured(rows=[D(2024, 5, 1), D(2024, 7, 1), D(2025, 9, 1)])
    # obs_end = max(2024-07-01 + 365 = 2025-07-01, 2025-09-01) = 2025-09-01
    assert one(loan, D(2025, 8, 31))[0]["in_observation"]
    assert not one(loan, D(2025, 9, 1))[0]["in_observation"]


# ---- transitions ----------------------------------------------------------------------------------------

def test_transitions_against_the_previous_snapshot():
    due = [(D(2025, 3, 10), 100_000, 1_000)]
    paid = [(1, "interest", 1_000, D(2025, 3, 10)), (1, "principal", 100_000, D(2025, 3, 10))]
    overdue, settled = Loan("internet_loan", due), Loan("internet_loan", due, paid=paid)  # 03-20: dpd 10, 0
    loans = [dataclasses.replace(ln, loan_id=k) for k, ln in ((5, overdue), (3, settled), (2, settled),
                                                               (4, overdue), (6, settled))]
    previous = [previous_row(4, 0, "current", "normal"), previous_row(3, 40, "moderate", "special_mention"),
                previous_row(2, 0, "current", "normal"), previous_row(6, 0, "current", "normal", fully_paid=True),
                previous_row(99, 3, "mild", "special_mention")]  # 5 is absent; 99 is not in the run
    out = evaluate(inputs(loans, D(2025, 3, 20), previous), D(2025, 3, 20), CATALOG)
    rows = [(t["loan_id"], t["kind"], t["from_value"], t["to_value"]) for t in out.transitions.to_pylist()]
    assert rows == [
        (2, "fully_paid", "false", "true"),
        (3, "bucket_down", "moderate", "current"), (3, "class_changed", "special_mention", "normal"),
        (3, "cured", "40", "0"), (3, "fully_paid", "false", "true"),
        (4, "became_overdue", "0", "10"), (4, "bucket_up", "current", "mild"),
        (4, "class_changed", "normal", "special_mention"),
        # absent from previous: compared with dpd 0 and the first levels (and not fully paid)
        (5, "became_overdue", "0", "10"), (5, "bucket_up", "current", "mild"),
        (5, "class_changed", "normal", "special_mention")]
    assert set(out.transitions.column("business_date").to_pylist()) == {D(2025, 3, 20)}
    assert out.snapshot.column("loan_id").to_pylist() == [2, 3, 4, 5, 6]


# ---- settlements after D, rejections ----------------------------------------------------------------------

def test_settlements_dated_after_the_business_date_are_ignored():
    loan = Loan("internet_loan", [(D(2025, 3, 10), 100_000, 1_000)],
                paid=[(1, "principal", 100_000, D(2025, 3, 21)), (1, "interest", 1_000, D(2025, 3, 21)),
                      (9, "tip", 10**9, D(2025, 3, 21))])  # broken in three ways, but not seen on 03-20
    snap = one(loan, D(2025, 3, 20))[0]
    assert (snap["dpd"], snap["outstanding_principal_fen"], snap["fully_paid"]) == (10, 100_000, False)


BASE = Loan("micro_business_loan", [(D(2025, 2, 10), 50_000, 500), (D(2025, 3, 10), 50_000, 400)],
            paid=[(1, "interest", 500, D(2025, 2, 10)), (1, "principal", 50_000, D(2025, 2, 10))])


@pytest.mark.parametrize(("change", "reason"), [
    ({"product": "payday_loan"}, "unknown_product"),
    ({"seqs": [1, 3]}, "seq_not_1_to_n"),
    ({"principal": 100_001}, "principal_sum_mismatch"),
    ({"rows": [BASE.rows[0], (D(2025, 3, 10), 50_000, 400, -1)]}, "negative_due"),
    ({"paid": [*BASE.paid, (2, "fee", 0, D(2025, 1, 9))]}, "settlement_before_disbursement"),
    ({"paid": [*BASE.paid, (3, "interest", 1, D(2025, 3, 1))]}, "settlement_unknown_seq"),
    ({"paid": [*BASE.paid, (2, "tip", 1, D(2025, 3, 1))]}, "settlement_unknown_component"),
    ({"paid": [*BASE.paid, (2, "interest", 401, D(2025, 3, 1))]}, "over_settled"),
    ({"paid": [*BASE.paid, (1, "principal", 1, D(2025, 3, 1))]}, "over_settled"),
])
def test_rejections(change, reason):
    good = dataclasses.replace(BASE, loan_id=1)
    bad = dataclasses.replace(BASE, loan_id=2, **change)
    out = evaluate(inputs([good, bad], D(2025, 3, 20)), D(2025, 3, 20), CATALOG)
    assert out.rejected.to_pylist() == [{"loan_id": 2, "reason": reason}]
    assert out.snapshot.column("loan_id").to_pylist() == [1]


def test_penalty_paid_beyond_the_recomputed_amount_is_kept_not_rejected():
    # seq 1 was paid on its due date, so its penalty recomputes to 0; 300 fen of penalty had been paid on it
    # (a backdated payment found later): the loan is not rejected and the floor keeps the 300 fen.
    loan = dataclasses.replace(BASE, loan_id=1, paid=[*BASE.paid, (1, "penalty", 300, D(2025, 3, 1))])
    out = evaluate(inputs([loan], D(2025, 3, 20)), D(2025, 3, 20), CATALOG)
    assert out.rejected.num_rows == 0
    assert {(r["seq"], r["penalty_due_fen"]) for r in out.penalties.to_pylist()} >= {(1, 300)}


def test_a_business_date_after_today_refuses_the_run():
    with pytest.raises(InvalidInput, match="after today"):
        evaluate(inputs([BASE], D(2025, 3, 20)), D(2025, 3, 20), CATALOG, today=D(2025, 3, 19))


# ---- properties over random portfolios ----------------------------------------------------------------

def effective(due_dates: pa.Table) -> dict:
    return {(r["holiday_rule"], r["due_on"]): r["effective_due"] for r in due_dates.to_pylist()}


@PROPERTY
@given(portfolios(50, 150))
def test_dpd_is_zero_exactly_when_nothing_is_past_due(p):
    d, e = p.business_date, effective(p.inputs.due_dates)
    paid: dict[tuple, int] = {}
    for s in p.history.to_pylist():  # every settlement, not just those the engine sees one by one
        if s["value_date"] <= d and s["component"] != "penalty":
            paid[s["loan_id"], s["seq"]] = paid.get((s["loan_id"], s["seq"]), 0) + s["amount_fen"]
    products = {ln["loan_id"]: CATALOG.products.get(ln["product_code"]) for ln in p.inputs.loans.to_pylist()}
    owing_late: set[int] = set()
    for r in p.inputs.instalments.to_pylist():
        product = products[r["loan_id"]]
        if product is None or r["due_on"] > d:
            continue
        due = r["principal_due_fen"] + r["interest_due_fen"] + r["fee_due_fen"] + r["cost_due_fen"]
        late = (d - e[product.holiday_rule, r["due_on"]]).days > product.grace_days
        if late and paid.get((r["loan_id"], r["seq"]), 0) < due:
            owing_late.add(r["loan_id"])
    for snap in evaluate(p.inputs, d, CATALOG).snapshot.to_pylist():
        assert snap["dpd"] >= 0
        assert (snap["dpd"] > 0) == (snap["loan_id"] in owing_late)


@PROPERTY
@given(portfolios(50, 150, broken=False), st.integers(1, 60))
def test_penalty_is_never_negative_and_grows_with_the_date_when_no_settlement_arrives(p, later):
    d1 = p.business_date
    d2 = min(d1 + timedelta(days=later), D(2026, 12, 31))
    first, _ = run(p.on(d1, last=d1), d1, CATALOG)
    second, _ = run(p.on(d2, last=d1), d2, CATALOG)  # nothing arrived after d1
    for a, b in zip(first, second, strict=True):
        assert min(a.uncapped + a.penalty_due, default=0) >= 0
        assert all(x <= y for x, y in zip(a.uncapped, b.uncapped))  # per instalment, before the cap
        if b.capped == b.uncapped:  # the cap's room can shrink when an instalment falls due (see above)
            assert sum(a.penalty_due) <= sum(b.penalty_due)


@PROPERTY
@given(portfolios(50, 150))
def test_principal_is_conserved(p):
    settled: dict[int, int] = {}
    for s in p.history.to_pylist():
        if s["component"] == "principal" and s["value_date"] <= p.business_date:
            settled[s["loan_id"]] = settled.get(s["loan_id"], 0) + s["amount_fen"]
    principal = {ln["loan_id"]: ln["principal_fen"] for ln in p.inputs.loans.to_pylist()}
    out = evaluate(p.inputs, p.business_date, CATALOG)
    for snap in out.snapshot.to_pylist():
        lid = snap["loan_id"]
        assert snap["outstanding_principal_fen"] == principal[lid] - settled.get(lid, 0)
    assert {r["loan_id"]: r["reason"] for r in out.rejected.to_pylist()} == p.expected_rejections


@PROPERTY
@given(st.one_of(portfolios(20, 80), small_portfolios(broken=True)))
def test_same_inputs_give_identical_outputs_whatever_the_row_order(p):
    first = evaluate(p.inputs, p.business_date, CATALOG)
    again = evaluate(p.inputs, p.business_date, CATALOG)
    flipped = dataclasses.replace(p.inputs, **{name: getattr(p.inputs, name).take(
        pa.array(range(getattr(p.inputs, name).num_rows - 1, -1, -1), pa.int64()))
        for name in ("loans", "instalments", "settlements")})
    third = evaluate(flipped, p.business_date, CATALOG)
    for name in ("snapshot", "penalties", "transitions", "rejected"):
        assert getattr(first, name).equals(getattr(again, name))
        assert getattr(first, name).equals(getattr(third, name))
    ids = first.snapshot.column("loan_id").to_pylist()
    assert ids == sorted(ids)
