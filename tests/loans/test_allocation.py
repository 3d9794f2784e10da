"""The payment waterfall: properties over random books, and the legal orders as examples."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.errors import InvalidInput
from arrears.loans.allocation import DEFAULT_RULE, allocate, days_past_due
from arrears.loans.model import InstalmentBalance
from arrears.products.model import COMPONENTS, AllocationRule, Component

P, I, F, PEN, C = Component.principal, Component.interest, Component.fee, Component.penalty, Component.cost
START = date(2024, 1, 1)


@st.composite
def books(draw) -> list[InstalmentBalance]:
    n = draw(st.integers(1, 6))
    gaps = draw(st.lists(st.integers(0, 45), min_size=n, max_size=n))  # 0: two instalments due the same day
    out, due_on = [], START
    for i, gap in enumerate(gaps):
        due_on += timedelta(days=gap)
        due = {c: draw(st.one_of(st.just(0), st.integers(0, 10_000))) for c in COMPONENTS}
        paid = {c: draw(st.integers(0, due[c])) for c in COMPONENTS}
        waived = {c: draw(st.integers(0, due[c] - paid[c])) for c in COMPONENTS}
        out.append(InstalmentBalance(i + 1, due_on, due, paid, waived))
    return draw(st.permutations(out))  # the caller's order must not matter


rules = st.builds(AllocationRule, sequence=st.sampled_from(["instalment_first", "component_first"]),
                  order=st.permutations(COMPONENTS).map(tuple),
                  principal_first_after_dpd=st.one_of(st.none(), st.integers(1, 120)))
dates = st.integers(-10, 300).map(lambda d: START + timedelta(days=d))


def oracle(book: list[InstalmentBalance], rule: AllocationRule, on: date):
    """Independent statement of the rules: eligible seqs, effective order, and each slot's rank."""
    ordered = sorted(book, key=lambda i: (i.due_on, i.seq))
    eligible = [i.seq for i in ordered if i.due_on <= on] + [i.seq for i in ordered if i.due_on > on][:1]
    overdue = [i.due_on for i in book if i.due_on < on and i.outstanding_total > 0]
    dpd = (on - min(overdue)).days if overdue else 0
    order = list(rule.order)
    if rule.principal_first_after_dpd is not None and dpd >= rule.principal_first_after_dpd:
        order = [P] + [c for c in order if c != P]

    def rank(seq: int, comp: Component) -> tuple[int, int]:
        a, b = eligible.index(seq), order.index(comp)
        return (a, b) if rule.sequence == "instalment_first" else (b, a)
    return eligible, dpd, rank


@given(book=books(), rule=rules, on=dates, amount=st.integers(1, 80_000))
def test_waterfall_properties(book, rule, on, amount):
    result = allocate(amount, book, rule, on=on)
    eligible, dpd, rank = oracle(book, rule, on)
    by_seq = {i.seq: i for i in book}

    assert days_past_due(book, on) == dpd
    assert result.unallocated_fen >= 0
    assert sum(x.amount_fen for x in result.lines) + result.unallocated_fen == amount
    slots = [(x.seq, x.component) for x in result.lines]
    assert len(slots) == len(set(slots)), "each instalment/component paid by one line"
    remaining = {(s, c): max(by_seq[s].outstanding(c), 0) for s in eligible for c in COMPONENTS}
    for line in result.lines:
        assert line.seq in eligible, "instalments beyond the current one are untouched"
        assert 0 < line.amount_fen <= remaining[(line.seq, line.component)]
        remaining[(line.seq, line.component)] -= line.amount_fen
    assert [rank(s, c) for s, c in slots] == sorted(rank(s, c) for s, c in slots)
    for seq, comp in slots:  # nothing ranked later is paid while an earlier slot still has outstanding
        earlier = [k for k in remaining if rank(*k) < rank(seq, comp)]
        assert all(remaining[k] == 0 for k in earlier)
    if result.unallocated_fen:
        assert all(v == 0 for v in remaining.values()), "surplus only once every eligible slot is paid"


@given(book=books(), rule=rules, on=dates, amount=st.integers(1, 80_000))
def test_credit_mode_touches_only_what_is_due(book, rule, on, amount):
    result = allocate(amount, book, rule, on=on, include_current=False)
    due_seqs = {i.seq for i in book if i.due_on <= on}
    assert {x.seq for x in result.lines} <= due_seqs
    assert result.allocated_fen + result.unallocated_fen == amount


def inst(seq: int, due_on: date, **due: int) -> InstalmentBalance:
    return InstalmentBalance(seq, due_on, {Component(k): v for k, v in due.items()})


@pytest.mark.parametrize("days,first", [(90, I), (91, P)])
def test_card_switches_to_principal_first_at_91_days(days, first):
    rule = AllocationRule(sequence="component_first", order=(C, F, PEN, I, P), principal_first_after_dpd=91)
    book = [inst(1, START, principal=1000, interest=100)]
    result = allocate(500, book, rule, on=START + timedelta(days=days))
    assert result.lines[0].component == first


def test_days_past_due_counts_from_the_oldest_unpaid_instalment():
    book = [InstalmentBalance(1, START, {P: 100}, paid={P: 100}), inst(2, date(2024, 2, 1), principal=100),
            inst(3, date(2024, 3, 1), principal=100)]
    assert days_past_due(book, date(2024, 3, 1)) == 29  # seq 1 is paid; seq 3 falls due today
    assert days_past_due(book, date(2024, 2, 1)) == 0
    assert days_past_due(book, date(2023, 12, 1)) == 0


def test_default_order_is_civil_code_561_and_only_the_current_period_is_prepaid():
    book = [inst(1, date(2024, 2, 1), principal=1000, interest=50, cost=20),
            inst(2, date(2024, 3, 1), principal=1000, interest=40),
            inst(3, date(2024, 4, 1), principal=1000, interest=30)]
    result = allocate(2200, book, DEFAULT_RULE, on=date(2024, 2, 10))
    assert [(x.seq, x.component, x.amount_fen) for x in result.lines] == [
        (1, C, 20), (1, I, 50), (1, P, 1000), (2, I, 40), (2, P, 1000)]
    assert result.unallocated_fen == 90  # seq 3 is not touched: that would be early settlement


def test_component_first_pays_every_instalments_interest_before_any_principal():
    rule = AllocationRule(sequence="component_first", order=(C, F, PEN, I, P))
    book = [inst(1, START, principal=1000, interest=50), inst(2, date(2024, 2, 1), principal=1000, interest=40)]
    result = allocate(200, book, rule, on=date(2024, 2, 5))
    assert [(x.seq, x.component, x.amount_fen) for x in result.lines] == [(1, I, 50), (2, I, 40), (1, P, 110)]


@pytest.mark.parametrize("amount", [0, -1, True, "100"])
def test_amount_must_be_positive_integer_fen(amount):
    with pytest.raises(InvalidInput) as exc:
        allocate(amount, [inst(1, START, principal=1)], on=START)
    assert exc.value.field == "amount_fen"


def test_float_amount_is_refused():
    with pytest.raises(InvalidInput) as exc:
        allocate(1.5, [inst(1, START, principal=1)], on=START)  # type: ignore[arg-type]
    assert exc.value.rule == "amount.integer_fen"
