"""The incremental run (only the loans that can change, the rest carried over) gives exactly what a full
run gives, table for table, over several business dates in a row — with payments arriving late
(backdated), payments reversed, broken loans and restructured loans — and really carries loans over."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portfolios import LAST_DAY, Portfolio, generate_portfolio

from arrears.delinquency import engine
from arrears.delinquency.incremental import run_incremental

TABLES = ("snapshot", "penalties", "transitions", "rejected")
STEPS = (1, 1, 3, 1, 1)  # days between runs: mostly the next date, once a catch-up over a gap


def with_arrivals(p: Portfolio, seed: int) -> tuple[pa.Table, list[date], list[date | None]]:
    """The history with, per settlement, the date it reached the system (most on their value date, some
    later: backdated) and the date it was reversed (a few)."""
    rng = random.Random(seed)
    history = p.history
    arrived, removed = [], []
    for v in history.column("value_date").to_pylist():
        a = v + timedelta(days=rng.randint(1, 40)) if rng.random() < 0.08 else v
        arrived.append(a)
        removed.append(a + timedelta(days=rng.randint(0, 20)) if rng.random() < 0.04 else None)
    return history, arrived, removed


def seen_at(p: Portfolio, history: pa.Table, arrived: list, removed: list, run_on: date) -> pa.Table:
    keep = [a <= run_on and (r is None or r > run_on) for a, r in zip(arrived, removed)]
    return history.filter(pa.array(keep, pa.bool_()))


def changed_between(history: pa.Table, arrived: list, removed: list, p: date, d: date) -> pa.Array:
    ids = history.column("loan_id").to_pylist()
    return pa.array(sorted({i for i, a, r in zip(ids, arrived, removed)
                            if p < a <= d or (r is not None and p < r <= d)}), pa.int64())


def check_chained_runs(seed: int, n: int, first: date, steps: tuple[int, ...], *, keep: bool = True) -> int:
    """Full and incremental runs over ``first`` + the steps (days between runs), table for table equal, each
    incremental run continuing from what the one before kept (``keep``) or recomputing every loan that can
    change; returns how many loan-runs were carried over."""
    p = generate_portfolio(seed, n, first, broken=6, previous="none")
    history, arrived, removed = with_arrivals(p, seed)

    def inputs_on(d: date, previous: pa.Table):
        return replace(p, history=seen_at(p, history, arrived, removed, d)).on(d, previous=previous)

    full = engine.run(inputs_on(first, p.inputs.previous), first, p.catalog, keep=keep)
    inc_snapshot, prev_date, carried, kept = full.snapshot, first, 0, full.carry
    for step in steps:
        d = prev_date + timedelta(days=step)
        full = engine.run(inputs_on(d, full.snapshot), d, p.catalog)
        result = run_incremental(inputs_on(d, inc_snapshot), d, p.catalog, carry=kept,
                                 changed=changed_between(history, arrived, removed, prev_date, d))
        kept = result.outputs.carry
        assert (kept is not None) == keep
        assert keep or result.continued == 0
        for name in TABLES:
            ours, theirs = getattr(result.outputs, name), getattr(full, name)
            assert ours.equals(theirs), (name, d, [(a, b) for a, b in zip(ours.to_pylist(), theirs.to_pylist())
                                                   if a != b][:2])
        carried += p.inputs.loans.num_rows - result.recomputed
        inc_snapshot, prev_date = result.outputs.snapshot, d
    return carried


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(60, 160), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=10)))
def test_incremental_equals_full_over_several_dates(seed, n, first):
    assert check_chained_runs(seed, n, first, STEPS) > 0  # loans were carried over, not all recomputed


# Gaps of any length around due dates and grace ends (1–3 days of grace, holidays moving E): the window
# "passes its grace in (P, D]" is judged per instalment, so an off-by-one there shows as a difference.
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 100), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=40)),
       st.lists(st.integers(1, 6), min_size=3, max_size=6))
def test_incremental_equals_full_over_any_gaps(seed, n, first, steps):
    check_chained_runs(seed, n, first, tuple(steps))


# Without what P's run kept, every loan that can change is recomputed from its inputs: the same outputs.
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(40, 100), st.dates(date(2024, 4, 1), LAST_DAY - timedelta(days=20)),
       st.lists(st.integers(1, 4), min_size=2, max_size=3))
def test_incremental_without_kept_rows_equals_full(seed, n, first, steps):
    check_chained_runs(seed, n, first, tuple(steps), keep=False)


def test_an_instalment_still_in_grace_is_carried_and_one_leaving_grace_recomputed(monkeypatch):
    """An owing instalment that fell due on P and is still in grace on D changes nothing: the loan is carried.
    On the date its grace ends the loan becomes overdue: it is recomputed, and equal to the full run."""
    days = 8
    p = generate_portfolio(11, 150, date(2025, 6, 30), previous="none")
    dated = p.history.column("value_date").to_pylist()  # every payment reaches the system on its value date
    uncapped = [c for c, product in p.catalog.products.items() if not product.penalty.caps.total_cost_annual
                and not product.penalty.caps.lpr_multiple]
    loans = p.inputs.loans.filter(pc.is_in(p.inputs.loans["product_code"], value_set=pa.array(uncapped)))
    ins = p.inputs.instalments.filter(pc.is_in(p.inputs.instalments["loan_id"], value_set=loans["loan_id"]))
    for d0 in sorted(set(ins["due_on"].to_pylist()))[::7]:  # a due date on which such a loan owes, quiet
        run0 = engine.run(p.on(d0), d0, p.catalog)
        quiet = run0.snapshot.filter(pc.and_(pc.equal(run0.snapshot["dpd"], 0),
                                             pc.equal(run0.snapshot["penalty_due_fen"], 0)))["loan_id"]
        paying = changed_between(p.history, dated, [None] * len(dated), d0 - timedelta(days=1),
                                 d0 + timedelta(days=days))
        now = p.on(d0).instalments
        owing = pc.greater(pc.add(pc.subtract(now["principal_due_fen"], now["principal_settled_fen"]),
                                  pc.subtract(now["interest_due_fen"], now["interest_settled_fen"])), 0)
        rows = now.filter(pc.and_(owing, pc.equal(now["due_on"], d0)))
        rows = rows.filter(pc.and_(pc.is_in(rows["loan_id"], value_set=quiet),
                                   pc.and_(pc.is_in(rows["loan_id"], value_set=loans["loan_id"]),
                                           pc.invert(pc.is_in(rows["loan_id"], value_set=paying)))))
        if rows.num_rows:
            break
    assert rows.num_rows > 0, "the portfolio has a quiet loan owing an instalment due on d0, unpaid for a week"
    loan = rows["loan_id"][0].as_py()
    recomputed: list[pa.Table] = []
    original = engine.run
    monkeypatch.setattr(engine, "run", lambda inputs, *a, **k: recomputed.append(inputs.loans) or original(
        inputs, *a, **k))
    previous, prev_date, seen = run0.snapshot, d0, []
    for step in range(1, days + 1):
        d = d0 + timedelta(days=step)
        inputs = p.on(d, previous=previous)
        full = original(inputs, d, p.catalog)
        result = run_incremental(inputs, d, p.catalog,
                                 changed=changed_between(p.history, dated, [None] * len(dated), prev_date, d))
        for name in TABLES:
            assert getattr(result.outputs, name).equals(getattr(full, name)), (name, d)
        dpd = full.snapshot.filter(pc.equal(full.snapshot["loan_id"], loan))["dpd"][0].as_py()
        seen.append((dpd, loan in recomputed[-1]["loan_id"].to_pylist()))
        previous, prev_date = result.outputs.snapshot, d
    assert seen[0] == (0, False) and seen[-1][0] > 0, seen  # carried while in grace; overdue within a week
    turned = next(k for k, (dpd, _) in enumerate(seen) if dpd > 0)
    assert all(not again for _, again in seen[:turned]) and seen[turned][1], seen


def test_a_payment_reaching_a_carried_loan_is_recomputed():
    p = generate_portfolio(7, 80, date(2025, 6, 30), previous="none")
    d0, d1 = date(2025, 6, 30), date(2025, 7, 1)
    first = engine.run(p.on(d0), d0, p.catalog)
    quiet = pc.equal(first.snapshot["dpd"], 0)
    loan = first.snapshot.filter(pc.and_(quiet, pc.equal(first.snapshot["fully_paid"], False)))["loan_id"][0].as_py()
    seqs = p.inputs.instalments.filter(pc.equal(p.inputs.instalments["loan_id"], loan))
    # 1 fen of the last instalment's principal paid early, entered after d0's run with value date d0: only
    # the caller's ``changed`` can tell (it is not a settlement seen one by one)
    last = seqs.sort_by([("seq", "descending")]).slice(0, 1).to_pylist()[0]
    early = pa.table({"loan_id": [loan], "seq": [last["seq"]], "component": ["principal"],
                      "amount_fen": [1], "value_date": [d0]})
    history = pa.concat_tables([p.history, early.cast(p.history.schema)])
    later = replace(p, history=history).on(d1, previous=first.snapshot)
    full = engine.run(later, d1, p.catalog)
    result = run_incremental(later, d1, p.catalog, changed=pa.array([loan], pa.int64()))
    assert result.outputs.snapshot.equals(full.snapshot)
    row = full.snapshot.filter(pc.equal(full.snapshot["loan_id"], loan)).to_pylist()[0]
    before = first.snapshot.filter(pc.equal(first.snapshot["loan_id"], loan)).to_pylist()[0]
    assert row["outstanding_principal_fen"] == before["outstanding_principal_fen"] - 1
