"""The incremental run's continuation (docs/eod.md, Incremental run; ``sql/carry.py``): a loan that can change only
by the days passed goes through the engine's later steps from the rows P's run kept, not from its inputs — and the
outputs are exactly a full run's, to the fen and the day, with the loans it must recompute recomputed: a payment or
reversal reaching an overdue loan, an instalment falling due or leaving its grace, a capped loan, a loan changed
since P, new and rejected loans, kept rows of another date, a moved holiday (E), a product's parameters changed."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portfolios import CATALOG, LAST_DAY, generate_portfolio, small_portfolios

from arrears.delinquency import continued, engine, incremental
from arrears.delinquency.incremental import run_incremental
from arrears.delinquency.model import Carry
from arrears.delinquency.snapshots import CARRY_PARTS, SnapshotStore
from arrears.delinquency.sql import carry as carry_sql
from arrears.delinquency.sql import date_literal, detail
from arrears.errors import InvalidInput
from arrears.products.catalog import Catalog

TABLES = ("snapshot", "penalties", "transitions", "rejected")


@pytest.fixture
def compiled(request, monkeypatch):
    """The continued loans' penalties by the compiled pass (``continued.py``, the default) or by the SQL."""
    monkeypatch.setattr(incremental, "COMPILED", request.param)
    return request.param


def same_as_full(inputs, d, catalog, result) -> None:
    full = engine.run(inputs, d, catalog, keep=True)
    for name in TABLES:
        ours, theirs = getattr(result.outputs, name), getattr(full, name)
        assert ours.equals(theirs), (name, d, [(a, b) for a, b in zip(ours.to_pylist(), theirs.to_pylist())
                                               if a != b][:2])


def no_payments_after(history: pa.Table, day: date) -> pa.Table:
    return history.filter(pc.less_equal(history["value_date"], pa.scalar(day, pa.date32())))


# Quiet days: nothing reaches any loan after P, so every overdue loan is continued (a closed form of the days
# passed), over gaps of 1–9 days from any date (instalments falling due and leaving grace in between are
# recomputed, the rest continued): equal to a full run, and the continued loans are most of the overdue ones.
@pytest.mark.parametrize("compiled", [True, False], indirect=True)
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 140), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=40)),
       st.lists(st.integers(1, 9), min_size=1, max_size=4))
def test_continued_quiet_loans_equal_a_full_run(compiled, seed, n, first, gaps):
    p = generate_portfolio(seed, n, first, broken=3, previous="none")
    for day, kept in continue_quietly(p, first, gaps):
        assert kept is not None and kept.business_date == day


# The same with no rejected loan and the loans in loan_id order: the snapshot is P's patched in place (levels,
# dpd and amounts replaced where they moved, what fell due added), never merged by loan_id.
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 140), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=40)),
       st.lists(st.integers(1, 9), min_size=2, max_size=4))
def test_continued_quiet_loans_patched_in_place_equal_a_full_run(seed, n, first, gaps):
    p = generate_portfolio(seed, n, first, previous="none")
    for day, kept in continue_quietly(p, first, gaps, ordered=True):
        assert kept is not None and kept.business_date == day


def continue_quietly(p, first, gaps, *, ordered: bool = False):
    """A full run on ``first`` keeping its rows, then the next dates after ``gaps`` continued from them, nobody
    paying after ``first``: each date's outputs equal a full run's; yields (date, the rows that date kept).
    ``ordered``: the loans given in loan_id order (with no loan rejected, the snapshot is then patched in place)."""
    quiet = replace(p, history=no_payments_after(p.history, first))
    run = engine.run(quiet.on(first), first, p.catalog, keep=True)
    previous, kept, day = run.snapshot, run.carry, first
    for gap in gaps:
        day += timedelta(days=gap)
        inputs = quiet.on(day, previous=previous)
        if ordered:
            inputs = replace(inputs, loans=inputs.loans.sort_by("loan_id"))
        result = run_incremental(inputs, day, p.catalog, changed=pa.array([], pa.int64()), carry=kept)
        same_as_full(inputs, day, p.catalog, result)
        previous, kept = result.outputs.snapshot, result.outputs.carry
        yield day, kept


def tight_caps(rate: str) -> Catalog:
    """The catalogue with every product capped at ``rate`` a year (total cost): the room is small, the cap bites
    and gives way day by day (the room grows with D, the penalties with the days overdue)."""
    products = {}
    for code, product in CATALOG.products.items():
        penalty = product.penalty
        products[code] = product.model_copy(update={"penalty": penalty.model_copy(update={
            "caps": penalty.caps.model_copy(update={"total_cost_annual": Decimal(rate)})})})
    return dataclasses.replace(CATALOG, products=products)


@pytest.mark.parametrize("compiled", [True, False], indirect=True)
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 120), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=40)),
       st.sampled_from(["0.05", "0.10", "0.20", "0.30"]), st.lists(st.integers(1, 9), min_size=1, max_size=3))
def test_continued_loans_under_a_biting_cap_equal_a_full_run(compiled, seed, n, first, rate, gaps):
    p = replace(generate_portfolio(seed, n, first, broken=2, previous="none"), catalog=tight_caps(rate))
    list(continue_quietly(p, first, gaps))


# Any small portfolio (every choice a hypothesis draw, so a failure shrinks), payments arriving as they are dated:
# the changed loans are exactly those paid in (P, D].
@pytest.mark.parametrize("compiled", [True, False], indirect=True)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(small_portfolios(), st.lists(st.integers(1, 5), min_size=2, max_size=3))
def test_continuation_on_small_portfolios(compiled, portfolio, gaps):
    first = portfolio.business_date
    run = engine.run(portfolio.on(first), first, portfolio.catalog, keep=True)
    previous, kept, day = run.snapshot, run.carry, first
    for gap in gaps:
        nxt = day + timedelta(days=gap)
        if nxt > LAST_DAY:
            break
        dates = portfolio.history["value_date"]
        paid = portfolio.history.filter(pc.and_(pc.greater(dates, pa.scalar(day, pa.date32())),
                                                pc.less_equal(dates, pa.scalar(nxt, pa.date32()))))
        inputs = portfolio.on(nxt, previous=previous)
        result = run_incremental(inputs, nxt, portfolio.catalog, changed=pc.unique(paid["loan_id"]), carry=kept)
        same_as_full(inputs, nxt, portfolio.catalog, result)
        previous, kept, day = result.outputs.snapshot, result.outputs.carry, nxt


def _overdue_setup(seed: int = 5, n: int = 150, first: date = date(2025, 6, 30)):
    p = generate_portfolio(seed, n, first, broken=4, previous="none")
    quiet = replace(p, history=no_payments_after(p.history, first))
    run = engine.run(quiet.on(first), first, p.catalog, keep=True)
    return p, quiet, run, first


def test_the_overdue_loans_are_continued_not_recomputed():
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)
    same_as_full(inputs, d, p.catalog, result)
    overdue = pc.sum(pc.greater(run.snapshot["dpd"], 0)).as_py()
    assert overdue > 10 and result.continued >= overdue // 2, (overdue, result.continued, result.recomputed)
    assert result.recomputed < p.inputs.loans.num_rows // 2


@pytest.mark.parametrize("cuts", [(), (0.1,), (0.6,), (0.6, 0.7, 0.9), (0.2, 0.4, 0.6, 0.8)])
def test_the_pass_reads_the_kept_rows_in_any_chunks(cuts):
    """The pass reads the kept di rows' first chunk in place and joins the others (``continued._two_parts``), or
    joins them all when the first is the smaller part: however the rows are cut, the continued loans' outputs are a
    full run's, and the first chunk is read where it lies."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    di = run.carry.di
    assert di.column("loan_id").num_chunks == 1  # the full run keeps one chunk
    bounds = [0, *(int(cut * di.num_rows) for cut in cuts), di.num_rows]
    cut = pa.Table.from_batches([batch for lo, hi in zip(bounds, bounds[1:])
                                 for batch in di.slice(lo, hi - lo).to_batches()], schema=di.schema)
    assert cut.column("loan_id").num_chunks == len(cuts) + 1
    first_part, rest = continued._two_parts(cut.column("open_p"), continued.ints)
    in_place = not cuts or cuts[0] >= 0.5
    assert len(first_part) == (bounds[1] if in_place else di.num_rows) and len(first_part) + len(rest) == di.num_rows
    assert np.shares_memory(first_part, np.frombuffer(cut.column("open_p").chunks[0].buffers()[1], np.int64)) \
        == in_place
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=replace(run.carry, di=cut))
    assert result.continued > 10
    same_as_full(inputs, d, p.catalog, result)


@pytest.mark.parametrize("layout", ["one chunk", "and an empty one", "numpy's memory"])
def test_the_patch_replaces_only_the_rows_given_and_leaves_p_as_it_was(layout):
    """P's integer columns are read in place (one chunk, or one and an empty one, or a buffer numpy owns and would
    let us write) and copied before the rows are written: the replaced rows take the new values, the others keep P's,
    and P's table itself is never written."""
    _, _, run, first = _overdue_setup()
    previous = run.snapshot
    if layout == "and an empty one":
        previous = pa.concat_tables([previous, previous.slice(0, 0)])
    if layout == "numpy's memory":
        previous = previous.set_column(previous.schema.get_field_index("dpd"), "dpd",
                                       pa.array(np.array(previous["dpd"].to_pylist(), np.int32)))
    before = previous.column("dpd").to_pylist()
    at = np.array([3, 4])
    redone = run.snapshot.take(pa.array(at))
    redone = redone.set_column(redone.schema.get_field_index("dpd"), "dpd", pc.add(redone["dpd"], 1))
    out = incremental._patched(previous, redone, at, np.zeros(previous.num_rows, np.int64),
                               date_literal(first + timedelta(days=1)))
    expected = [value + 1 if k in (3, 4) else value for k, value in enumerate(before)]
    assert out.column("dpd").to_pylist() == expected
    assert out.column("loan_id").to_pylist() == previous.column("loan_id").to_pylist()
    assert previous.column("dpd").to_pylist() == before


@pytest.mark.parametrize("shuffled", [False, True])
def test_continued_loans_compare_with_odd_levels_of_p_as_a_full_run_does(shuffled):
    """P's row of a continued loan with a bucket no scheme knows, another product's bucket, a null or unknown class,
    a class of another level: the transitions (bucket's direction, class changed, their from values) are a full
    run's. ``shuffled``: P's snapshot not in loan_id order (its rows are then joined, not found by binary search)."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    snap = run.snapshot
    overdue = [i for i, dpd in enumerate(snap["dpd"].to_pylist()) if dpd > 0]
    buckets, classes = snap["bucket"].to_pylist(), snap["classification"].to_pylist()
    odd_buckets = ["no-such-bucket", "M7", None, "严重"]
    odd_classes = [None, "no-such-class", "loss", "normal", "关注"]
    for k, i in enumerate(overdue[:20]):
        buckets[i] = odd_buckets[k % len(odd_buckets)] or buckets[i]
        classes[i] = odd_classes[k % len(odd_classes)]
    odd = snap.set_column(snap.schema.get_field_index("bucket"), "bucket", pa.array(buckets, pa.string()))
    odd = odd.set_column(odd.schema.get_field_index("classification"), "classification", pa.array(classes, pa.string()))
    if shuffled:
        odd = odd.take(pa.array(np.random.default_rng(3).permutation(odd.num_rows)))
    inputs = quiet.on(d, previous=odd)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)
    assert result.continued >= 20
    same_as_full(inputs, d, p.catalog, result)
    kinds = set(result.outputs.transitions["kind"].to_pylist())
    assert {"class_changed", "bucket_down"} <= kinds, kinds


def test_a_payment_reaching_an_overdue_loan_is_recomputed_from_its_inputs():
    """A backdated principal payment on a continued loan (value date before P): only ``changed`` says so."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    snap = run.snapshot
    loan = snap.filter(pc.greater(snap["dpd"], 0))["loan_id"][0].as_py()
    ins = quiet.on(first).instalments
    owing = ins.filter(pc.and_(pc.equal(ins["loan_id"], loan),
                               pc.greater(ins["principal_due_fen"], ins["principal_settled_fen"])))
    seq = owing.sort_by("seq")["seq"][0].as_py()
    late = pa.table({"loan_id": [loan], "seq": [seq], "component": ["principal"], "amount_fen": [100],
                     "value_date": [first - timedelta(days=1)]}).cast(p.history.schema)
    paid = replace(quiet, history=pa.concat_tables([quiet.history, late]))
    inputs = paid.on(d, previous=snap)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([loan], pa.int64()), carry=run.carry)
    same_as_full(inputs, d, p.catalog, result)
    row = result.outputs.snapshot.filter(pc.equal(result.outputs.snapshot["loan_id"], loan)).to_pylist()[0]
    before = snap.filter(pc.equal(snap["loan_id"], loan)).to_pylist()[0]
    assert row["overdue_principal_fen"] == before["overdue_principal_fen"] - 100


def _falling_due(quiet, run, first: date) -> tuple[date, int, int]:
    """A date after ``first`` on which a loan plain on ``first`` (dpd 0, no penalty) has an owing instalment fall
    due, nothing else happening to it: the date, the loan and what that instalment adds to what it owes by then."""
    plain = run.snapshot.filter(pc.and_(pc.equal(run.snapshot["dpd"], 0), pc.equal(run.snapshot["penalty_due_fen"], 0)))
    ins = quiet.on(first).instalments
    ins = ins.filter(pc.and_(pc.is_in(ins["loan_id"], value_set=plain["loan_id"]),
                             pc.greater(ins["due_on"], pa.scalar(first, pa.date32()))))
    row = ins.sort_by([("due_on", "ascending"), ("loan_id", "ascending")]).to_pylist()[0]
    owed = sum(row[f"{c}_due_fen"] - row[f"{c}_settled_fen"] for c in ("interest", "fee", "cost"))
    return row["due_on"], row["loan_id"], owed


@pytest.mark.parametrize("general_merge", [False, True])
def test_a_plain_loan_with_an_instalment_falling_due_keeps_its_row_and_owes_it(general_merge):
    """An owing instalment falling due on D, still in grace, of a loan plain on P: not recomputed (``fell_due``),
    its row is P's with that instalment's interest, fees and costs added to what it owes — equal to a full run,
    whether the snapshot is patched in place or (a new loan in the portfolio) merged by loan_id."""
    first = date(2025, 6, 30)
    p = generate_portfolio(5, 150, first, previous="none")  # no rejected loan: P's snapshot is the portfolio's
    quiet = replace(p, history=no_payments_after(p.history, first))
    d, loan, owed = _falling_due(quiet, engine.run(quiet.on(first), first, p.catalog), first)
    prior = d - timedelta(days=1)
    run = engine.run(quiet.on(prior), prior, p.catalog, keep=True)
    inputs = quiet.on(d, previous=run.snapshot)
    inputs = replace(inputs, loans=inputs.loans.sort_by("loan_id"))  # in P's order: the snapshot is patched in place
    if general_merge:  # a loan not in P's snapshot: the snapshot is not P's loan for loan
        other = inputs.loans["loan_id"][-1].as_py()
        inputs = replace(inputs, previous=run.snapshot.filter(pc.not_equal(run.snapshot["loan_id"], other)))
    assert general_merge or inputs.previous["loan_id"].equals(inputs.loans["loan_id"])
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)
    same_as_full(inputs, d, p.catalog, result)
    assert result.fell_due > 0
    before = run.snapshot.filter(pc.equal(run.snapshot["loan_id"], loan)).to_pylist()[0]
    after = result.outputs.snapshot.filter(pc.equal(result.outputs.snapshot["loan_id"], loan)).to_pylist()[0]
    assert after["total_outstanding_fen"] == before["total_outstanding_fen"] + owed and owed > 0
    assert {k: v for k, v in after.items() if k not in ("business_date", "total_outstanding_fen")} == {
        k: v for k, v in before.items() if k not in ("business_date", "total_outstanding_fen")}


@pytest.mark.parametrize("the_kept_rows", [True, False])
@pytest.mark.parametrize("prepaid", [False, True])
def test_a_due_date_in_between_without_its_effective_date_refuses_the_run(the_kept_rows, prepaid):
    """due_dates lacks a date in (P, D] on which instalments fall due — owing, or all paid ahead (no owing
    instalment points at the date then): the run is refused as a full run is, with P's kept rows (the window of
    (P, D] finds the date) or without them (every instalment is looked at)."""
    first = date(2025, 6, 30)
    p = generate_portfolio(5, 150, first, previous="none")
    quiet = replace(p, history=no_payments_after(p.history, first))
    d, _, _ = _falling_due(quiet, engine.run(quiet.on(first), first, p.catalog), first)
    prior = d - timedelta(days=1)
    if prepaid:  # every instalment due on d paid in full the day before P, ahead of its date
        due = quiet.on(prior).instalments
        due = due.filter(pc.equal(due["due_on"], pa.scalar(d, pa.date32()))).to_pylist()
        ahead = [{"loan_id": row["loan_id"], "seq": row["seq"], "component": c, "value_date": prior - timedelta(days=1),
                  "amount_fen": row[f"{c}_due_fen"] - row[f"{c}_settled_fen"]}
                 for row in due for c in ("principal", "interest", "fee", "cost")
                 if row[f"{c}_due_fen"] > row[f"{c}_settled_fen"]]
        quiet = replace(quiet, history=pa.concat_tables([quiet.history, pa.Table.from_pylist(
            ahead, schema=quiet.history.schema)]))
        # and only the loans plain on P: none is recomputed for another reason (a detail loan falling due is)
        detail_ids = engine.run(quiet.on(prior), prior, p.catalog, keep=True).carry.pre["loan_id"]
        plain = pc.invert(pc.is_in(quiet.inputs.loans["loan_id"], value_set=detail_ids))
        ids = quiet.inputs.loans.filter(plain)["loan_id"]
        quiet = replace(quiet, inputs=replace(
            quiet.inputs, loans=quiet.inputs.loans.filter(plain),
            instalments=quiet.inputs.instalments.filter(pc.is_in(quiet.inputs.instalments["loan_id"], value_set=ids))),
            history=quiet.history.filter(pc.is_in(quiet.history["loan_id"], value_set=ids)))
        now = quiet.on(d).instalments.filter(pc.equal(quiet.on(d).instalments["due_on"], pa.scalar(d, pa.date32())))
        assert now.num_rows and all(r[f"{c}_due_fen"] == r[f"{c}_settled_fen"] for r in now.to_pylist()
                                    for c in ("principal", "interest", "fee", "cost"))
    run = engine.run(quiet.on(prior), prior, p.catalog, keep=True)
    inputs = quiet.on(d, previous=run.snapshot)
    due = inputs.due_dates
    inputs = replace(inputs, due_dates=due.filter(pc.not_equal(due["due_on"], pa.scalar(d, pa.date32()))))
    with pytest.raises(InvalidInput) as full:
        engine.run(inputs, d, p.catalog)
    with pytest.raises(InvalidInput) as ours:
        run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()),
                        carry=run.carry if the_kept_rows else None)
    assert ours.value.rule == full.value.rule == "due_dates_complete"
    assert ours.value.detail == full.value.detail


def test_what_fell_due_added_beyond_bigint_fails_as_the_engine_would():
    """The patch adds what fell due to P's total outstanding with numpy, whose int64 wraps silently: a sum beyond
    BIGINT fails the run (DuckDB's checked BIGINT does the same in the engine) instead of turning negative."""
    from arrears.delinquency.incremental import _patched
    from arrears.delinquency.model import SNAPSHOT

    top = 2**63 - 1
    row = {f.name: 0 for f in SNAPSHOT if pa.types.is_integer(f.type)}
    row.update(business_date=date(2025, 7, 1), product_code="consumer_loan", bucket="M0", tier="mild", m_bucket="M0",
               classification="normal", in_observation=False, fully_paid=False)
    previous = pa.Table.from_pylist([{**row, "loan_id": 1}, {**row, "loan_id": 2, "total_outstanding_fen": top - 9}],
                                    schema=SNAPSHOT)
    nowhere, none = np.array([], dtype=np.int64), previous.slice(0, 0)
    patched = _patched(previous, none, nowhere, np.array([5, 9], dtype=np.int64), date_literal(date(2025, 7, 2)))
    assert patched["total_outstanding_fen"].to_pylist() == [5, top]
    with pytest.raises(OverflowError):
        _patched(previous, none, nowhere, np.array([0, 10], dtype=np.int64), date_literal(date(2025, 7, 2)))


def test_kept_rows_of_another_date_are_not_used():
    p, quiet, run, first = _overdue_setup()
    d1, d2 = first + timedelta(days=1), first + timedelta(days=2)
    one = run_incremental(quiet.on(d1, previous=run.snapshot), d1, p.catalog, changed=pa.array([], pa.int64()),
                          carry=run.carry)
    inputs = quiet.on(d2, previous=one.outputs.snapshot)
    stale = run_incremental(inputs, d2, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)  # P's, not d1's
    assert stale.continued == 0 and stale.outputs.carry is None
    same_as_full(inputs, d2, p.catalog, stale)


def test_a_moved_effective_due_date_recomputes_every_loan():
    """The kept late-settlement weights count days from E: if the holiday table moved an E ≤ P since, the kept
    rows are not used."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    due = run.carry.due
    moved = due.set_column(due.schema.get_field_index("e_none"), "e_none",
                           pc.add(due["e_none"], pa.scalar(timedelta(days=1))))
    carry = replace(run.carry, due=moved)
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=carry)
    assert result.continued == 0
    same_as_full(inputs, d, p.catalog, result)


def test_a_product_whose_parameters_changed_is_recomputed():
    """A kept pid stands for its (product, rate) only while every parameter is the same: a changed one (here the
    penalty ratio, as if the catalogue's markup had been edited) sends its loans through the engine's first steps."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    params = run.carry.params
    changed_params = params.set_column(params.schema.get_field_index("pen_num"), "pen_num",
                                       pa.array([str(int(x) + 1) for x in params["pen_num"].to_pylist()]))
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()),
                             carry=replace(run.carry, params=changed_params))
    assert result.continued == 0
    same_as_full(inputs, d, p.catalog, result)


@pytest.mark.parametrize("digits, declines", [(25, "prepare"), (13, "compute")])
def test_amounts_beyond_int64_are_continued_by_the_sql(monkeypatch, digits, declines):
    """A rate written with 25 decimals: its penalty ratio does not fit int64, so the compiled pass declines before
    it starts (``continued.prepare`` gives None). With 13 its ratio fits, but the penalty's products do not: the pass
    declines when done (``continued.compute`` gives None), after the recomputed loans' SQL ran alone, which then
    runs again with the continued loans. Either way they go through the SQL, equal to a full run."""
    p, quiet, _, first = _overdue_setup()
    d = first + timedelta(days=1)

    def long_rates(inputs):
        rates = pc.binary_join_element_wise(inputs.loans["annual_rate"], "0" * (digits - 5) + "1", "")
        return replace(inputs, loans=inputs.loans.set_column(inputs.loans.schema.get_field_index("annual_rate"),
                                                             "annual_rate", rates))

    run = engine.run(long_rates(quiet.on(first)), first, p.catalog, keep=True)
    answers = {}
    for name in ("prepare", "compute"):
        original = getattr(continued, name)
        monkeypatch.setattr(continued, name, lambda *args, f=original, n=name: answers.setdefault(n, f(*args)))
    inputs = long_rates(quiet.on(d, previous=run.snapshot))
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)
    assert answers[declines] is None and (declines == "compute") == ("compute" in answers)
    assert result.continued > 10
    same_as_full(inputs, d, p.catalog, result)


def test_a_loan_with_sums_beyond_bigint_is_kept_wide_and_recomputed():
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    pre = run.carry.pre
    overdue = pc.is_in(pre["loan_id"], value_set=run.snapshot.filter(pc.greater(run.snapshot["dpd"], 0))["loan_id"])
    wide = pre.set_column(pre.schema.get_field_index("wide"), "wide", overdue)
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()),
                             carry=replace(run.carry, pre=wide))
    assert result.continued < pc.sum(overdue).as_py()
    same_as_full(inputs, d, p.catalog, result)


def test_new_removed_and_rejected_loans_take_the_general_merge():
    """A new loan (not in P's snapshot), a loan gone from the portfolio and a loan rejected on D: the snapshot is
    not P's loan for loan, so it is merged by loan_id rather than patched in place."""
    p, quiet, run, first = _overdue_setup()
    d = first + timedelta(days=1)
    inputs = quiet.on(d, previous=run.snapshot)
    ids = inputs.loans["loan_id"]
    gone, new = ids[3].as_py(), ids[5].as_py()
    keep_rows = pc.not_equal(inputs.loans["loan_id"], gone)
    previous = run.snapshot.filter(pc.not_equal(run.snapshot["loan_id"], new))
    inputs = replace(inputs, loans=inputs.loans.filter(keep_rows),
                     instalments=inputs.instalments.filter(pc.not_equal(inputs.instalments["loan_id"], gone)),
                     settlements=inputs.settlements.filter(pc.not_equal(inputs.settlements["loan_id"], gone)),
                     previous=previous)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=run.carry)
    same_as_full(inputs, d, p.catalog, result)
    assert result.outputs.snapshot.num_rows == inputs.loans.num_rows - result.outputs.rejected.num_rows


def _without(inputs, loans: set[int]):
    """The inputs without the rows of ``loans`` (P's snapshot left as it is)."""
    drop = pa.array(sorted(loans), pa.int64())
    return replace(inputs, **{name: getattr(inputs, name).filter(pc.invert(pc.is_in(getattr(inputs, name)["loan_id"],
                                                                                    value_set=drop)))
                              for name in ("loans", "instalments", "settlements")})


# Production's usual next date: some of P's loans gone (paid off and closed), new ones disbursed, the loans read in
# loan_id order. The loans are found among P's by arrays and the snapshot is P's patched (without the loans gone)
# with the new loans' rows placed among it (after it, or between its rows), not merged by a join and a sort.
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 120), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=20)),
       st.integers(1, 5), st.data())
def test_gone_and_new_loans_in_loan_id_order_are_placed_by_arrays(seed, n, first, gap, data):
    p = generate_portfolio(seed, n, first, previous="none")
    ids = sorted(p.inputs.loans["loan_id"].to_pylist())
    new = set(data.draw(st.lists(st.sampled_from(ids), max_size=4)))
    if data.draw(st.booleans()):
        new.add(ids[-1])  # the newest loan_id too: its row after P's
    gone = set(data.draw(st.lists(st.sampled_from(ids), max_size=4))) - new
    run = engine.run(_without(p.on(first), new), first, p.catalog, keep=True)
    d = first + timedelta(days=gap)
    dates = p.history["value_date"]
    paid = p.history.filter(pc.and_(pc.greater(dates, pa.scalar(first, pa.date32())),
                                    pc.less_equal(dates, pa.scalar(d, pa.date32()))))
    inputs = _without(p.on(d, previous=run.snapshot), gone)
    inputs = replace(inputs, loans=inputs.loans.sort_by("loan_id"))
    placed = []
    real = incremental._patched_in_order
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(incremental, "_patched_in_order", lambda *a: placed.append(real(*a)) or placed[-1])
        result = run_incremental(inputs, d, p.catalog, changed=pc.unique(paid["loan_id"]), carry=run.carry)
    same_as_full(inputs, d, p.catalog, result)
    assert result.continued > 0 or not run.carry.pre.num_rows
    if not result.outputs.rejected.num_rows:
        assert placed and placed[-1] is not None


def live(kept: Carry) -> dict[str, pa.Table]:
    """The kept rows that count: pre's, and di's with their loan's pre row's as_of; without as_of (the date each
    was computed), ordered."""
    con = duckdb.connect()
    con.register("pre", kept.pre)
    con.register("di", kept.di)
    return {"pre": con.sql("SELECT * EXCLUDE (as_of) FROM pre ORDER BY loan_id").to_arrow_table(),
            "di": con.sql("SELECT d.* EXCLUDE (as_of) FROM di d SEMI JOIN pre p ON p.loan_id = d.loan_id "
                          "AND p.as_of = d.as_of ORDER BY loan_id, seq").to_arrow_table()}


def test_the_kept_rows_are_a_full_runs():
    """What incremental runs keep for the next date is, loan for loan, what a full run of that date keeps."""
    p, quiet, run, first = _overdue_setup()
    previous, kept = run.snapshot, run.carry
    for step in (1, 1, 30, 1):  # the third: many loans recomputed, the dropped rows compacted away
        d = first + timedelta(days=step)
        inputs = quiet.on(d, previous=previous)
        result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=kept)
        full = engine.run(inputs, d, p.catalog, keep=True).carry
        ours, theirs = live(result.outputs.carry), live(full)
        for name in ("pre", "di"):
            assert ours[name].equals(theirs[name]), name
        kept_rows = result.outputs.carry
        alive = pc.sum(kept_rows.pre["rows"]).as_py()  # the pre rows count the live di rows
        stale = kept_rows.di.num_rows - alive
        assert alive == ours["di"].num_rows and 2 * stale <= alive, (alive, stale)
        assert stale == 0 or step != 30  # compacted
        previous, kept, first = result.outputs.snapshot, result.outputs.carry, d


# The one SQL of the continuation that is not the engine's own: what eod_unc reads, on D, from the kept rows
# (``carry.di_sql``, the expressions of ``detail.di_sql``). On any portfolio and date, the engine's eod_di kept
# (``carry.keep_sql``) and given its date columns again by ``di_sql`` is what eod_unc reads of the engine's eod_di
# (``detail.unc_input_sql``), row for row, type for type; and for a loan nothing reached, the rows kept on P give D's.
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(20, 120), st.dates(date(2024, 3, 1), LAST_DAY - timedelta(days=30)),
       st.integers(0, 30))
def test_the_date_columns_are_the_engines(seed, n, d, days):
    p = generate_portfolio(seed, n, d, broken=2, previous="none")
    later = d + timedelta(days=days)
    quiet = replace(p, history=no_payments_after(p.history, d))
    kept_on_p = engine.run(quiet.on(d), d, p.catalog, keep=True).carry
    con = duckdb.connect()
    seen: dict[str, pa.Table] = {}

    def at_unc(step: str) -> None:
        if step != "eod_unc":
            return
        columns, order = ", ".join(detail.UNC_INPUT), "ORDER BY loan_id, seq"
        con.execute(carry_sql.keep_di_rows())
        kept_today = carry_sql.keep_sql(date_literal(later))["di"]
        seen["engine"] = con.sql(f"SELECT {columns} FROM ({detail.unc_input_sql()}) t {order}").to_arrow_table()
        seen["again"] = con.sql(f"SELECT {columns} FROM ({carry_sql.di_sql(date_literal(later), f'({kept_today})')}) t "
                                f"{order}").to_arrow_table()
        con.register("kept_on_p", kept_on_p.di)
        seen["from_p"] = con.sql(f"SELECT {columns} FROM ({carry_sql.di_sql(date_literal(later), 'kept_on_p')}) t "
                                 f"SEMI JOIN eod_di x ON x.loan_id = t.loan_id AND x.seq = t.seq {order}").to_arrow_table()

    engine.run(quiet.on(later), later, p.catalog, con=con, on_step=at_unc)
    assert seen["again"].equals(seen["engine"])
    # every kept row of P is a row of D's for the loans whose rows did not change (a quiet portfolio: all but those
    # with an instalment falling due in (P, D] and the restructured, which the run recomputes)
    engine_rows = {(r["loan_id"], r["seq"]): r for r in seen["engine"].to_pylist()}
    moved = {r["loan_id"] for r in quiet.on(later).instalments.to_pylist() if d < r["due_on"] <= later}
    moved |= {r["loan_id"] for r in p.inputs.loans.to_pylist() if r["restructured_on"] is not None}  # recomputed
    for row in seen["from_p"].to_pylist():
        if row["loan_id"] not in moved and row["pid"] == engine_rows[(row["loan_id"], row["seq"])]["pid"]:
            assert row == engine_rows[(row["loan_id"], row["seq"])], row


@pytest.mark.parametrize("earlier", ["di", "pre"])
def test_the_kept_rows_of_an_earlier_form_are_not_continued(earlier):
    """Kept rows written by an earlier version (eod_di's columns but the dated ones; pre rows without the count of
    their di rows) are not read as today's: the date is recomputed, and its outputs are a full run's."""
    p, quiet, run, first = _overdue_setup(n=40)
    old_form = {"di": run.carry.di.rename_columns(["pd" if c == "open_p" else c for c in run.carry.di.column_names]),
                "pre": run.carry.pre.drop_columns(["rows"])}
    d = first + timedelta(days=1)
    inputs = quiet.on(d, previous=run.snapshot)
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()),
                             carry=dataclasses.replace(run.carry, **{earlier: old_form[earlier]}))
    assert result.continued == 0 and result.outputs.carry is None
    same_as_full(inputs, d, p.catalog, result)


def test_the_store_keeps_the_carry_beside_the_snapshot(tmp_path):
    """Written and read back as it was; a date without all of it (lost, or a run killed while writing it) has none,
    and the service then runs that date's successor in full."""
    p, quiet, run, first = _overdue_setup(n=40)
    store = SnapshotStore(tmp_path)
    store.write(first, run.snapshot)
    store.write_carry(run.carry)
    back = store.read_carry(first)
    assert back is not None and back.business_date == first
    for part in CARRY_PARTS:
        assert getattr(back, part).equals(getattr(run.carry, part)), part
    d = first + timedelta(days=1)
    inputs = quiet.on(d, previous=store.read(first))
    result = run_incremental(inputs, d, p.catalog, changed=pa.array([], pa.int64()), carry=back)
    same_as_full(inputs, d, p.catalog, result)
    store.carry_path(first, "di").unlink()
    assert store.read_carry(first) is None
