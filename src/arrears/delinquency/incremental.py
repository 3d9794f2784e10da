"""The next business date without recomputing every loan (docs/eod.md, Incremental run).

Between the previous run's date P and D, a loan's result can change only if something about it moved:
it was overdue, had a penalty or was in restructuring observation on P (dpd and penalties grow by the day);
an instalment it still owes fell due or passed its grace in (P, D]; a settlement, reversal or schedule
change reached it since P's run (the caller's ``changed``, plus any settlement seen one by one dated after
P); it is under a capped product (the cap's room grows by the day); it was not in P's snapshot (new, or
rejected on P); or due_dates lacks one of its due dates. Every other loan's row of P is carried over with D as
its date.

With what P's run kept (``model.Carry``, ``sql/carry.py``), a loan that can change only by the days passed is
*continued*: its penalties and sums on D come from its kept eod_di rows by one compiled pass (``continued.py``) and
its snapshot row and transitions from those sums (``continued_state.py``), or, where an amount may not fit int64,
those rows get D's date columns and go through the engine's later steps with the rows of the loans recomputed from
their inputs (``_continue``). Without it, every loan that can change is
recomputed by ``engine.run`` (``_recompute``). Either way the result is a full run's, which
``tests/delinquency/test_incremental.py`` and ``test_incremental_carry.py`` check. Set-based: the selection is SQL in
DuckDB, subsets and the snapshot's patch vectorised (numpy over loan_ids, never a loop over loans).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.delinquency import columns, continued, engine, sql, window
from arrears.delinquency.model import SNAPSHOT, Carry, EngineInputs, EngineOutputs, conform
from arrears.delinquency.sql import carry as carry_sql
from arrears.delinquency.sql import catalogue, date_literal, detail, main
from arrears.products.catalog import Catalog


def _recompute_sql(p: str, d: str) -> str:
    """loan_ids that can change between P and D (see the module text); a superset is always safe. The owing
    instalments that fall due in (P, D] or pass their grace there are ``eod_judged``'s (``_judged_sql``)."""
    return f"""
SELECT loan_id FROM eod_loans_all WHERE restructured_on IS NOT NULL
UNION SELECT loan_id FROM eod_changed
UNION SELECT loan_id FROM eod_previous_all
      WHERE dpd > 0 OR penalty_due_fen <> 0 OR overdue_penalty_fen <> 0 OR in_observation
UNION SELECT l.loan_id FROM eod_loans_all l ANTI JOIN eod_previous_all v ON v.loan_id = l.loan_id
UNION SELECT loan_id FROM eod_judged WHERE moves OR due_on > {p}
UNION SELECT i.loan_id FROM eod_instalments_all i, (SELECT due_on FROM eod_missing) m WHERE i.due_on = m.due_on
UNION SELECT s.loan_id FROM eod_settlements_all s WHERE s.value_date > {p} AND s.value_date <= {d}
UNION SELECT s.loan_id FROM (SELECT DISTINCT loan_id FROM eod_settlements_all WHERE value_date <= {d}) s
      JOIN eod_loans_all l ON l.loan_id = s.loan_id
      JOIN eod_params q ON q.product_code = coalesce(l.product_code, '') AND q.annual_rate = coalesce(l.annual_rate, '')
      WHERE q.has_cap"""


def _lowest_moved_sql(p: str) -> str:
    """The earliest due date whose instalments can fall due in (P, D] or leave their grace there, any rule and
    grace; P + 1 at the latest, so that every instalment due in (P, D] is in the
    window, its due date in ``eod_due`` or not (``_missing_sql``)."""
    return f"""
WITH params AS (SELECT DISTINCT nbd, g FROM eod_params WHERE known)
SELECT least(min(x.due_on), CAST({p} + 1 AS DATE)) FROM eod_due x, params q
WHERE x.due_on > {p}
   OR CAST((CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) + q.g AS DATE) >= {p}
   OR (CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) IS NULL"""


def _window_sql(p: str, d: str, lo: str) -> str:
    """The instalments due in [lo, D] that fall due in (P, D] (any, owing or not) or owe (they may leave their
    grace in (P, D]; judged per product in ``_judged_sql``), with what one falling due adds to what is owed by D
    besides principal (``main.ow_sql``'s sum)."""
    return f"""
SELECT i.loan_id, i.due_on, {main.owing('i')} > 0 AS owes,
       (i.interest_due_fen - i.interest_settled_fen) + (i.fee_due_fen - i.fee_settled_fen)
       + (i.cost_due_fen - i.cost_settled_fen) AS owed
FROM eod_instalments_all i
WHERE i.due_on >= {lo} AND i.due_on <= {d} AND (i.due_on > {p} OR {main.owing('i')} > 0)"""


def _judged_sql(p: str, d: str) -> str:
    """The owing instalments of ``eod_window``, each judged by its own product's holiday rule and grace: ``moves``
    when it passes its grace in (P, D] (P - g <= E < D - g) or falls due in (P, D] already past its grace on D, or
    its E is unknown; otherwise one falling due in (P, D] is still in grace on D (``moves`` false)."""
    e = "(CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END)"
    return f"""
SELECT w.loan_id, w.due_on, w.owed, coalesce(CASE WHEN w.due_on > {p} THEN CAST({e} + q.g AS DATE) < {d}
           ELSE CAST({e} + q.g AS DATE) >= {p} AND CAST({e} + q.g AS DATE) < {d} END, TRUE) AS moves
FROM eod_window w
JOIN eod_window_loans l ON l.loan_id = w.loan_id
LEFT JOIN eod_params q ON q.product_code = coalesce(l.product_code, '') AND q.annual_rate = coalesce(l.annual_rate, '')
LEFT JOIN eod_due x ON x.due_on = w.due_on
WHERE w.owes"""


def _fell_due_sql(p: str) -> str:
    """The loans only an owing instalment falling due in (P, D], still in grace on D, reached (every other reason
    to recompute one is in ``eod_redo``): plain on P (a detail loan of P is continued or recomputed) and plain on D,
    their P row holds but for what is owed by D, which those instalments add to ``total_outstanding``."""
    return f"""
SELECT j.loan_id, CAST(sum(j.owed) AS BIGINT) AS owed
FROM eod_judged j ANTI JOIN eod_redo r ON r.loan_id = j.loan_id
WHERE j.due_on > {p} GROUP BY j.loan_id"""


def _redo_sql(p: str, d: str, kept_apart: str | None = None) -> str:
    """The loans the run recomputes from their inputs when it has P's kept rows (``eod_old``: the detail loans it
    can continue): as ``_recompute_sql`` for what reached a loan or moved its dates, but a loan that can change
    only by the days passed is recomputed only if it is not in ``eod_old``; and a loan of ``eod_old`` with any
    instalment falling due in (P, D] is (what is used of the cap counts it). ``kept_apart``: a table of the loans of
    P's kept rows and P's moving loans that ``eod_old`` does not hold, and of today's loans P's snapshot lacks, found
    by arrays (``_Selection``) instead of the anti-joins. A superset is always safe."""
    apart = f"UNION SELECT loan_id FROM {kept_apart}" if kept_apart else f"""
UNION SELECT c.loan_id FROM carry_pre c ANTI JOIN eod_old o ON o.loan_id = c.loan_id
UNION SELECT v.loan_id FROM eod_previous_all v ANTI JOIN eod_old o ON o.loan_id = v.loan_id WHERE {_MOVING}"""
    return f"""
SELECT loan_id FROM eod_loans_all WHERE restructured_on IS NOT NULL
UNION SELECT loan_id FROM eod_changed
{"" if kept_apart else "UNION SELECT l.loan_id FROM eod_loans_all l ANTI JOIN eod_previous_all v ON v.loan_id = l.loan_id"}
{apart}
UNION SELECT w.loan_id FROM eod_window w SEMI JOIN eod_old o ON o.loan_id = w.loan_id WHERE w.due_on > {p}
UNION SELECT j.loan_id FROM eod_judged j ANTI JOIN eod_old o ON o.loan_id = j.loan_id WHERE j.moves
UNION SELECT w.loan_id FROM eod_window w, (SELECT due_on FROM eod_missing) m WHERE w.due_on = m.due_on
UNION SELECT s.loan_id FROM eod_settlements_all s WHERE s.value_date > {p} AND s.value_date <= {d}"""


def _missing_sql(p: str) -> str:
    """``main.missing_sql`` with kept rows of P: only a due date in (P, D] can lack its E without the kept rows
    being set aside (``carry.due_changed_sql`` finds one ≤ P that lost it), and every instalment due then is in
    ``eod_window`` — no scan of every instalment."""
    return f"""
SELECT u.due_on, x.e_none IS NULL AS miss_none, x.e_nbd IS NULL AS miss_nbd
FROM (SELECT DISTINCT due_on FROM eod_window WHERE due_on > {p}) u
LEFT JOIN eod_due x ON x.due_on = u.due_on
WHERE x.e_none IS NULL OR x.e_nbd IS NULL"""


# P's rows that can change by the days passed (SQL over eod_previous_all as v; ``_Selection.moving`` as arrays).
_MOVING = "v.dpd > 0 OR v.penalty_due_fen <> 0 OR v.overdue_penalty_fen <> 0 OR v.in_observation"


def _keep_sql() -> str:
    """The loans of ``eod_old`` still in the portfolio and not recomputed, ``tail`` when they can change by the
    days passed (overdue, a penalty, in observation on P, or under a cap: its room grows by the day) or an
    instalment of theirs passes its grace in (P, D] (it is in the kept rows, which ``carry.di_sql`` judges on D).
    The others (dpd 0, no penalty, no cap, no grace ending) keep P's row: no instalment of theirs started to weigh,
    so nothing of theirs moves. (``_Selection.keep`` does the same by arrays when the loans are in order.)"""
    return f"""
SELECT o.loan_id, o.pid, o.row,
       {_MOVING} OR o.has_cap OR o.loan_id IN (SELECT loan_id FROM eod_judged WHERE moves) AS tail
FROM eod_old o
JOIN eod_previous_all v ON v.loan_id = o.loan_id
SEMI JOIN eod_loans_all l ON l.loan_id = o.loan_id
ANTI JOIN eod_redo r ON r.loan_id = o.loan_id"""


@dataclass(frozen=True)
class Incremental:
    outputs: EngineOutputs  # with ``carry`` for the next date when the run was given P's (or ran in full)
    recomputed: int  # loans that went through the engine from their inputs
    continued: int = 0  # loans whose kept rows of P went through the engine's later steps (``sql/carry.py``)
    fell_due: int = 0  # plain loans whose P row was kept with what fell due in (P, D] added (``_fell_due_sql``)


# The continued loans' outputs by the compiled pass (``continued.py``); False: by the SQL (tests run both).
COMPILED = True
FRONT_END = "eod_di"  # the step whose rows ``sql/carry.py`` keeps; the steps before it read the inputs
# The continued loans' pass runs beside the recomputed loans' first steps, which take a core: cut in this many ranges.
TAIL_PARTS = 1


def run_incremental(inputs: EngineInputs, business_date: date, catalog: Catalog, *, changed: pa.Array,
                    carry: Carry | None = None, today: date | None = None, chunk_loans: int = engine.CHUNK_LOANS,
                    on_phase: Callable[[str], None] | None = None) -> Incremental:
    """The run for ``business_date`` given the previous run's snapshot in ``inputs.previous`` (its date P
    < D) and ``changed``: the loan_ids whose settlements or schedule changed since P's run (payments,
    reversals, waivers, backdated or not). Same outputs as ``engine.run`` on the same inputs. With ``carry``,
    what P's run kept (``EngineOutputs.carry``), the loans that can change only by the days passed are continued
    from it instead of recomputed, and the outputs carry D's for the next date (that path runs in one pass, not in
    ``chunk_loans`` chunks). ``on_phase`` is called with each phase's name when it is done (profiling)."""
    done = on_phase or (lambda _: None)
    engine.check_business_date(business_date, today)
    previous = inputs.previous
    if previous.num_rows == 0:
        return Incremental(engine.run(inputs, business_date, catalog, chunk_loans=chunk_loans, keep=True),
                           inputs.loans.num_rows)
    p_dates = set(previous.column("business_date").unique().to_pylist())
    if len(p_dates) != 1 or next(iter(p_dates)) >= business_date:
        raise ValueError("the previous snapshot must be of one date before the business date")
    p_date = next(iter(p_dates))
    p, d = date_literal(p_date), date_literal(business_date)
    con = engine.database().cursor()  # its temp and registered tables are its own, dropped when it closes
    try:
        tables = engine.input_tables(inputs)
        for name, table in tables.items():
            con.register(f"{name}_all", table)
        con.register("eod_changed", pa.table({"loan_id": pa.array(changed, pa.int64())}))
        catalogue_tables = engine.catalogue_tables(tables["eod_loans"], catalog)
        for name, table in catalogue_tables.items():
            con.register(name, table)
        con.execute("CREATE TEMP VIEW eod_due_dates AS SELECT * FROM eod_due_dates_all")
        con.execute("CREATE TEMP VIEW eod_instalments AS SELECT * FROM eod_instalments_all")
        con.execute(f"CREATE TEMP TABLE eod_due AS {main.due_sql(d)}")
        if carry is not None and carry.business_date == p_date and _register_carry(con, carry, p):
            done("prepare")
            return _continue(con, tables, catalogue_tables, business_date, catalog, p, d, carry, done)
        con.execute(f"CREATE TEMP TABLE eod_missing AS {main.missing_sql(d)}")
        done("prepare")
        return _recompute(con, inputs, business_date, catalog, p, d, chunk_loans, done)
    finally:
        con.close()


def _recompute(con: duckdb.DuckDBPyConnection, inputs: EngineInputs, business_date: date, catalog: Catalog,
               p: str, d: str, chunk_loans: int, done: Callable[[str], None]) -> Incremental:
    """Without P's kept rows: every loan that can differ from P goes through the engine."""
    tables = engine.input_tables(inputs)
    _window(con, tables["eod_loans"], tables["eod_instalments"], p, d)
    con.execute(f"CREATE TEMP TABLE eod_judged AS {_judged_sql(p, d)}")
    con.execute(f"CREATE TEMP TABLE eod_redo AS {_recompute_sql(p, d)}")
    done("select")
    subset = {name: con.sql(f"SELECT t.* FROM {name}_all t SEMI JOIN eod_redo r ON r.loan_id = t.loan_id"
                            ).to_arrow_table()
              for name in ("eod_loans", "eod_instalments", "eod_settlements", "eod_previous")}
    done("subset")
    redone = engine.run(replace(inputs, loans=subset["eod_loans"], instalments=subset["eod_instalments"],
                                settlements=subset["eod_settlements"], previous=subset["eod_previous"]),
                        business_date, catalog, chunk_loans=chunk_loans)
    done("engine")
    con.execute("CREATE TEMP VIEW eod_redone AS SELECT loan_id FROM eod_redo")
    snapshot = _merge(con, engine.input_tables(inputs), redone.snapshot, d)
    done("carry")
    return Incremental(replace(redone, snapshot=snapshot), subset["eod_loans"].num_rows)


def _register_carry(con: duckdb.DuckDBPyConnection, carry: Carry, p: str) -> bool:
    """Registers P's kept pre, params and due as carry_*; False when they cannot be continued: an effective due
    date ≤ P moved since (the kept settlement weights were counted from it), or they were kept in another form
    (by an earlier version)."""
    if carry.di.column_names != list(carry_sql.KEPT_DI) or "rows" not in carry.pre.column_names:
        return False
    for name in ("params", "due"):
        con.register(f"carry_{name}", getattr(carry, name))
    # each kept pre row with its place: the rows of the loans kept are taken by it (``_kept_pre``), not joined
    con.register("carry_pre", carry.pre.append_column("row", pa.array(np.arange(carry.pre.num_rows))))
    (moved,), = con.sql(carry_sql.due_changed_sql(p)).fetchall()
    return moved == 0


def _window(con: duckdb.DuckDBPyConnection, loans: pa.Table, instalments: pa.Table, p: str, d: str) -> None:
    """eod_window: the instalments on the due dates that can move between P and D (``_window_sql``, or
    ``window.window_rows`` by arrays), the earliest such date found first so that the scan of every instalment is a
    plain filter."""
    (lo,), = con.sql(_lowest_moved_sql(p)).fetchall()
    rows = window.window_rows(instalments, lo if lo is not None else _day(d), _day(p), _day(d))
    if rows is not None:  # a compiled scan of the due dates (the SQL filters every instalment row: twice the time)
        con.register("eod_window", rows)
    else:
        con.execute(f"CREATE TEMP TABLE eod_window AS {_window_sql(p, d, date_literal(lo) if lo is not None else d)}")
        rows = con.sql("SELECT loan_id FROM eod_window").to_arrow_table()
    ids = np.unique(rows.column("loan_id").to_numpy())
    rows = _rows_of(loans, ids)  # a few loans of many: found by binary search, not a join of every loan
    if rows is not None:
        con.register("eod_window_loans", rows.select(["loan_id", "product_code", "annual_rate"]))
    else:
        con.execute("CREATE TEMP VIEW eod_window_loans AS SELECT * FROM eod_loans_all")


def _continue(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], catalogue_tables: dict[str, pa.Table],
              business_date: date, catalog: Catalog, p: str, d: str, carry: Carry,
              done: Callable[[str], None]) -> Incremental:
    """With P's kept rows: the loans they cannot stand for go through the engine's first steps from their inputs;
    their eod_di rows and those of the loans that can change by the days passed (from the kept rows,
    ``carry_sql.di_sql``) go through the later steps together, once; every other loan keeps P's row."""
    con.execute(f"CREATE TEMP TABLE carry_pid AS {carry_sql.pid_map_sql()}")
    con.execute(f"CREATE TEMP TABLE eod_old AS {carry_sql.old_sql()}")
    _window(con, tables["eod_loans"], tables["eod_instalments"], p, d)
    con.execute(f"CREATE TEMP TABLE eod_missing AS {_missing_sql(p)}")
    con.execute(f"CREATE TEMP TABLE eod_judged AS {_judged_sql(p, d)}")
    order = _order(tables)
    arrays = None if order is None else _Selection.of(con, order, tables["eod_previous"], carry.pre)
    if arrays is not None:  # the loans in order: the kept, the moving and the new loans found among them by arrays
        con.register("eod_kept_apart", arrays.kept_apart())
    con.execute(f"CREATE TEMP TABLE eod_redo AS {_redo_sql(p, d, 'eod_kept_apart' if arrays else None)}")
    con.execute(f"CREATE TEMP TABLE eod_fell_due AS {_fell_due_sql(p)}")
    redo = _sorted_ids(con, "SELECT loan_id FROM eod_redo")
    if arrays is not None:
        keep = arrays.keep(con, redo)
        con.register("eod_keep", keep)
    else:
        con.execute(f"CREATE TEMP TABLE eod_keep AS {_keep_sql()}")
        keep = con.sql("SELECT row, pid, tail FROM eod_keep ORDER BY row").to_arrow_table()
    kept_pre = _kept_pre(keep, carry.pre)  # P's kept pre rows of the loans kept, with today's pid
    con.register("kept_pre_raw", kept_pre)
    done("select")
    with ThreadPoolExecutor(2) as pool:  # the compiled pass on threads beside the recomputed loans' SQL
        return _continue_kept(con, pool, tables, catalogue_tables, business_date, catalog, p, d, carry, kept_pre,
                              order, redo, done)


def _continue_kept(con: duckdb.DuckDBPyConnection, pool: ThreadPoolExecutor, tables: dict[str, pa.Table],
                   catalogue_tables: dict[str, pa.Table], business_date: date, catalog: Catalog, p: str, d: str,
                   carry: Carry, kept_pre: pa.Table, order: _Order | None, redo: np.ndarray,
                   done: Callable[[str], None]) -> Incremental:
    """``_continue`` once the loans are chosen: the continued loans go through the compiled pass on a thread (from
    P's kept rows alone) while the recomputed loans' first steps run; then the recomputed loans the pass can take go
    through it too (from today's kept rows), and the others through the engine's later steps."""
    top = catalogue.top_dpd(catalog)
    pending = []  # the pass's runs: the continued loans', then the recomputed loans' it takes
    if COMPILED:  # its inputs prepared on its thread too: they are P's kept rows and the inputs, not the connection's
        pending.append(pool.submit(continued.evaluate, continued.continued_tail(kept_pre), carry.di, tables,
                                   catalogue_tables, top, business_date, TAIL_PARTS))
    recomputed = 0
    names = ("eod_loans", "eod_instalments", "eod_settlements")
    with ThreadPoolExecutor(2) as takes:  # the takes release the GIL: the three subsets side by side
        subsets = dict(zip(names, takes.map(lambda name: _rows_of(tables[name], redo), names)))
    for name in names:
        rows = subsets[name]
        if rows is not None:
            con.register(f"{name}_sub", rows)
        else:
            con.execute(f"CREATE TEMP TABLE {name}_sub AS SELECT t.* FROM {name}_all t "
                        "SEMI JOIN eod_redo r ON r.loan_id = t.loan_id")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_sub")
        if name == "eod_loans":
            (recomputed,), = [(rows.num_rows,)] if rows is not None else con.sql(
                "SELECT count(*) FROM eod_loans_sub").fetchall()
    done("subset")
    steps = sql.steps(business_date, catalog.restructuring, top)
    front = next(k for k, step in enumerate(steps) if step.name == FRONT_END)
    for step in steps[:front]:
        if step.name != "eod_due":  # made once for the selection, from every due date
            engine.execute(con, step)
    con.execute(carry_sql.keep_di_rows())  # the recomputed loans': what is kept of them, and what the pass reads
    con.execute("ALTER TABLE eod_pre RENAME TO eod_pre_new")
    new = {name: con.sql(query).to_arrow_table() for name, query in carry_sql.keep_sql(d, "eod_pre_new").items()}
    con.register("carry_di", carry.di)
    con.execute("""CREATE TEMP VIEW kept_di_raw AS SELECT k.* REPLACE (p.pid AS pid), p.tail
                   FROM carry_di k JOIN kept_pre_raw p ON p.loan_id = k.loan_id AND p.as_of = k.as_of""")
    pre_columns = [c for (c, *_) in con.sql("DESCRIBE SELECT * FROM eod_pre_new").fetchall()]
    tail_pre = carry_sql.hugeint_view("pre", pre_columns, "kept_pre_raw WHERE tail")
    con.execute("CREATE OR REPLACE TEMP VIEW eod_loans AS SELECT * FROM eod_loans_all")
    if pending:  # the recomputed loans the pass can take (with today's kept rows)
        con.execute(f"CREATE TEMP TABLE eod_passed AS {carry_sql.passed_sql()}")
        prepared = continued.prepare(con.sql(continued.passed_sql(d)).to_arrow_table(), new["di"], tables,
                                     catalogue_tables, top)
        pending.append(pool.submit(continued.compute, prepared, business_date, 1) if prepared is not None else None)
    later = (con, tables, steps[front + 1:], d, redo, tail_pre, catalog)
    alone = bool(pending) and pending[-1] is not None
    done("front")
    redone = _later_steps(*later, alone=alone)
    next_carry = Carry(business_date, pre=pa.concat_tables([kept_pre.drop_columns(["tail"]), new["pre"]]),
                       di=_next_di(con, kept_pre, carry.di, new["di"]), params=catalogue_tables["eod_params"],
                       due=con.sql("SELECT * FROM eod_due").to_arrow_table())
    con.execute("CREATE TEMP VIEW eod_redone AS SELECT loan_id FROM eod_redo UNION ALL "
                "SELECT loan_id FROM eod_keep WHERE tail")
    fell_due = con.sql("SELECT loan_id, owed FROM eod_fell_due ORDER BY loan_id").to_arrow_table()
    tail = pc.sum(pc.fill_null(kept_pre.column("tail"), False)).as_py() or 0  # eod_keep's, as kept_pre has them
    # P's rows made ready for the patch while the pass ends on the other core (this thread would only wait for it)
    unpatched = _unpatched_in_order(tables["eod_previous"], order, fell_due, d) if order is not None else None
    done("keep")
    compiled = [run.result() if run is not None else None for run in pending]
    merging = {}  # the penalties' and transitions' merges, on the pool beside the snapshot's patch
    if alone and any(part is None for part in compiled):  # the pass declined (an amount beyond int64): the SQL for all
        redone = _later_steps(*later, alone=False)
    elif alone:  # the SQL's outputs are the recomputed loans'; a continued loan is never rejected
        def merged(name: str) -> pa.Table:
            ours = continued.merged_by_loan(compiled[1][name], compiled[0][name])
            return continued.merged_by_loan(redone[name], ours)

        merging = {name: pool.submit(merged, name) for name in ("penalties", "transitions")}
        redone["snapshot"] = merged("snapshot")
    done("engine")
    expected = tail + (int(np.count_nonzero(_among(redo, order.today))) if order is not None else 0)
    snapshot = _merge(con, tables, redone["snapshot"], d, order, fell_due, expected, unpatched)
    redone.update({name: run.result() for name, run in merging.items()})
    done("carry")
    return Incremental(EngineOutputs(snapshot=snapshot, penalties=redone["penalties"],
                                     transitions=redone["transitions"], rejected=redone["rejected"],
                                     carry=next_carry), recomputed, tail, fell_due.num_rows)


def _later_steps(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], steps: list[sql.Step], d: str,
                 redo: np.ndarray, tail_pre: str, catalog: Catalog, *, alone: bool) -> dict[str, pa.Table]:
    """The engine's steps from eod_unc on and its outputs: ``alone``, of the recomputed loans the compiled pass does not
    take (``eod_passed``: it takes the continued loans and most of the recomputed), with their rows of P only — none
    to run, usually; else of every recomputed and continued loan, whose rows go through the SQL from their kept rows
    (``carry_sql.di_sql``)."""
    if alone:
        con.execute("CREATE OR REPLACE TEMP TABLE eod_pre_rest AS SELECT * FROM eod_pre_new p "
                    "ANTI JOIN eod_passed s ON s.loan_id = p.loan_id")
        (rest,), = con.sql("SELECT count(*) FROM eod_pre_rest").fetchall()
        if rest == 0:
            return {name: schema.empty_table() for name, schema in engine.OUTPUT_SCHEMAS.items()}
        con.execute("CREATE OR REPLACE TEMP VIEW eod_pre AS SELECT * FROM eod_pre_rest")
        con.execute("CREATE OR REPLACE TEMP VIEW eod_di AS " + detail.dated_sql(
            d, "(SELECT * FROM kept_di_rows k ANTI JOIN eod_passed s ON s.loan_id = k.loan_id)"))
        previous = _rows_of(tables["eod_previous"], redo)
        if previous is not None:
            con.register("eod_previous_sub", previous)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE eod_pre_all AS SELECT * FROM eod_pre_new UNION ALL {tail_pre}")
        con.execute("CREATE OR REPLACE TEMP VIEW eod_pre AS SELECT * FROM eod_pre_all")
        con.execute("CREATE OR REPLACE TEMP VIEW eod_di AS " + detail.dated_sql(d, "kept_di_rows"))  # recomputed
        previous = None
    con.execute("CREATE OR REPLACE TEMP VIEW eod_previous AS SELECT * FROM "
                + ("eod_previous_sub" if previous is not None else "eod_previous_all"))
    for step in steps:
        if step.name == "eod_unc" and not alone:  # the continued loans' rows go through the SQL too
            rows = carry_sql.di_sql(d, "(SELECT * FROM kept_di_raw WHERE tail)")
            columns = ", ".join(detail.UNC_INPUT)
            step = replace(step, sql=detail.unc_sql(d, f"(SELECT {columns} FROM ({detail.unc_input_sql()}) "
                                                       f"UNION ALL SELECT {columns} FROM ({rows}))"))
        engine.execute(con, step)
    missing = con.sql(sql.MISSING_DUE_DATES).fetchall()
    if missing:
        raise engine.missing_due_dates(missing[0][0])
    return engine.decode_outputs({name: con.sql(query).to_arrow_table() for name, query in sql.OUTPUTS.items()},
                                 catalog)


@dataclass(frozen=True)
class _Order:
    """P's snapshot's loan_ids and today's loans', each increasing: the loans found among them by arrays."""
    before: np.ndarray  # P's snapshot's
    today: np.ndarray  # today's loans'
    here: np.ndarray  # each of P's: still one of today's (a loan paid off and closed since is not)

    @property
    def new(self) -> np.ndarray:
        """Today's loans P's snapshot lacks (new, or rejected on P)."""
        return self.today[~_among(self.today, self.before)]


def _order(tables: dict[str, pa.Table]) -> _Order | None:
    """The loan_ids of P's snapshot and of today's loans when each is in increasing loan_id order; else None."""
    previous, loans = tables["eod_previous"].column("loan_id"), tables["eod_loans"].column("loan_id")
    if previous.null_count or loans.null_count:
        return None
    before, today = continued.ints(previous), continued.ints(loans)
    if not (_increasing(before) and _increasing(today)):
        return None
    if np.array_equal(before, today):  # P's loans, loan for loan
        return _Order(before, today, np.ones(len(before), np.bool_))
    return _Order(before, today, _among(before, today))


def _increasing(ids: np.ndarray) -> bool:
    return len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1]))


@dataclass(frozen=True)
class _Selection:
    """``_redo_sql``'s anti-joins with eod_old and P's snapshot and ``_keep_sql`` as arrays, when P's loans and today's
    are each in loan_id order (``order``): the kept loans (``eod_old``) placed among P's by ``continued.owners``
    instead of hash joins of P's 1M rows (at 1M loans ≈ 65 ms instead of ≈ 125 for the SQL's statements). Loans out of
    order take the SQL; ``test_incremental_carry.py`` compares both with full runs."""
    order: _Order
    moving: np.ndarray  # each P row: overdue, penalised or in observation (``_MOVING``; a null as false)
    old: pa.Table  # eod_old: loan_id, pid, has_cap, row
    at: np.ndarray  # each old loan's place in P
    in_p: np.ndarray  # the old loan is one of P's
    pre_ids: np.ndarray  # the loan_ids of P's kept pre rows

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, order: _Order, previous: pa.Table, pre: pa.Table) -> _Selection:
        """A null loan_id of the kept rows joins nothing: left out."""
        old = con.sql("SELECT loan_id, pid, has_cap, row FROM eod_old WHERE loan_id IS NOT NULL").to_arrow_table()
        ids, before = old.column("loan_id").to_numpy(), order.before
        at, in_p = _places(before, ids)

        def filled(name: str, value: object) -> np.ndarray:
            return pc.fill_null(previous.column(name), value).to_numpy(zero_copy_only=False)

        moving = ((filled("dpd", 0) > 0) | (filled("penalty_due_fen", 0) != 0)
                  | (filled("overdue_penalty_fen", 0) != 0) | filled("in_observation", False))
        return cls(order, moving, old, at, in_p, pc.drop_null(pre.column("loan_id")).to_numpy())

    def kept_apart(self) -> pa.Table:
        """The loans of P's kept pre rows that eod_old does not hold, P's moving loans it does not hold, and today's
        loans P's snapshot lacks."""
        old = self.at[self.in_p]
        is_old = np.zeros(len(self.order.before), np.bool_)
        is_old[old] = True
        ids = np.sort(self.old.column("loan_id").to_numpy())
        apart = np.concatenate([self.pre_ids[~_among(self.pre_ids, ids)], self.order.before[self.moving & ~is_old],
                                self.order.new])
        return pa.table({"loan_id": pa.array(apart, pa.int64())})

    def keep(self, con: duckdb.DuckDBPyConnection, redo: np.ndarray) -> pa.Table:
        """eod_keep (``_keep_sql``): the old loans of P still in the portfolio and not recomputed (``redo``: eod_redo's,
        sorted), with ``tail``, by row."""
        ids = self.old.column("loan_id").to_numpy()
        judged = _sorted_ids(con, "SELECT loan_id FROM eod_judged WHERE moves")
        has_cap = pc.fill_null(self.old.column("has_cap"), False).to_numpy(zero_copy_only=False)
        tail = self.moving[self.at] | has_cap | _among(ids, judged)
        kept = np.flatnonzero(self.in_p & self.order.here[self.at] & ~_among(ids, redo))
        rows = self.old.column("row").to_numpy()[kept]
        kept = kept[np.argsort(rows, kind="stable")]
        return pa.table({"loan_id": self.old.column("loan_id").take(kept), "pid": self.old.column("pid").take(kept),
                         "row": self.old.column("row").take(kept), "tail": pa.array(tail[kept])})


def _sorted_ids(con: duckdb.DuckDBPyConnection, query: str) -> np.ndarray:
    """The loan_ids ``query`` gives, sorted; a null one, which joins nothing, left out."""
    return np.sort(con.sql(f"SELECT loan_id FROM ({query}) WHERE loan_id IS NOT NULL").to_arrow_table()
                   .column("loan_id").to_numpy())


def _places(ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``values``'s place in the increasing ``ids`` (a valid index), and whether it is there: by
    ``continued.owners``, a table over the ids' span when it is not much more than them (one read a value, where a
    binary search of 1M ids for 1M values took ≈ 40 ms), else by binary search."""
    if not len(ids):
        return np.zeros(len(values), np.int64), np.zeros(len(values), np.bool_)
    at = np.minimum(continued.owners(ids, values), len(ids) - 1)
    return at, ids[at] == values


def _among(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which ``values`` are in the increasing ``ids``."""
    return _places(ids, values)[1]


def _kept_pre(keep: pa.Table, pre: pa.Table) -> pa.Table:
    """P's kept pre rows of the loans kept (``keep``: eod_keep's ``row, pid, tail`` by row), with today's pid and
    ``tail``: taken from ``pre`` by their places, in its order (a join stored them as a table, 17 ms at 1M loans, and
    read them back for the next date, 11 ms more)."""
    kept = pre.take(keep.column("row"))
    at = kept.schema.get_field_index("pid")
    kept = kept.set_column(at, kept.schema.field(at), keep.column("pid").cast(kept.schema.field(at).type))
    return kept.append_column("tail", keep.column("tail"))


def _next_di(con: duckdb.DuckDBPyConnection, kept_pre: pa.Table, kept: pa.Table, new: pa.Table) -> pa.Table:
    """The di rows kept for the next date: P's, with the recomputed loans' added as a chunk of their own (joined to
    the rest only now and then: ``continued.laid_out``); the rows no pre row names any more (recomputed or gone
    loans) dropped once they are a third of the whole."""
    live = pc.sum(kept_pre.column("rows")).as_py() or 0  # kept_pre_raw's
    if 2 * (kept.num_rows - live) > live:
        kept = con.sql(carry_sql.compact_sql()).to_arrow_table()
    return continued.laid_out(pa.concat_tables([kept, new]))


def _day(literal: str) -> date:
    """The date of a SQL date literal (``date_literal``'s)."""
    return date.fromisoformat(literal.split("'")[1])


def _rows_of(table: pa.Table, ids: np.ndarray) -> pa.Table | None:
    """The rows of ``table`` whose loan_id is in the sorted ``ids``, found by binary search when ``table`` is
    ordered by loan_id (as the inputs usually are: a semi-join would read every column of every instalment), batch by
    batch over each batch's own loan_ids (no copy of the column: joining its chunks cost 0.25 s at 15M rows) and
    the ids within its range; None when it is not ordered."""
    batches = [batch for batch in table.to_batches() if batch.num_rows]
    keys = [batch.column("loan_id") for batch in batches]
    if any(key.null_count for key in keys):
        return None
    keys = [key.to_numpy() for key in keys]  # views, not copies
    if any(later[0] < earlier[-1] for earlier, later in pairwise(keys)):
        return None

    def rows(batch: pa.RecordBatch, key: np.ndarray) -> pa.RecordBatch | bool | None:
        """The batch's rows of ``ids``; False when its loan_ids are not ordered (checked here, on the pool)."""
        if not columns.ordered(key):
            return False
        mine = ids[np.searchsorted(ids, key[0], "left"):np.searchsorted(ids, key[-1], "right")]
        starts, stops = np.searchsorted(key, mine, "left"), np.searchsorted(key, mine, "right")
        lengths = stops - starts
        if not lengths.sum():
            return None
        return batch.take(pa.array(np.arange(int(lengths.sum())) + np.repeat(starts - (np.cumsum(lengths) - lengths),
                                                                             lengths)))

    with ThreadPoolExecutor(2) as pool:  # a loop over batches, not loans, two at a time (numba and takes free the GIL)
        taken = list(pool.map(rows, batches, keys))
    if any(batch is False for batch in taken):
        return None
    taken = [batch for batch in taken if batch is not None]
    return pa.Table.from_batches(taken, schema=table.schema)


def _merge(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], redone: pa.Table, d: str,
           order: _Order | None = None, fell_due: pa.Table | None = None, expected: int = -1,
           unpatched: tuple[np.ndarray, _Unpatched] | None = None) -> pa.Table:
    """The snapshot: P's rows of the loans still in the portfolio and not recomputed, with D as their date, and the
    recomputed rows, by loan_id; the loans of ``fell_due`` (``loan_id, owed``, by loan_id) with what fell due added
    to their total outstanding. When P's loans and today's are each in loan_id order (``order``) and no loan was
    rejected (``redone`` has the ``expected`` rows: one for each recomputed loan of today's and each continued one),
    that is P's snapshot without the loans gone (``_unpatched_in_order``, or ``unpatched`` if the caller made it
    already; it is written into) with the recomputed rows put in their places, found by arrays, and the new loans'
    rows placed among them — no join or sort of the whole snapshot."""
    if order is not None and expected == redone.num_rows:
        patched = _patched_in_order(tables["eod_previous"], order, redone, fell_due, d, unpatched)
        if patched is not None:
            return patched
    con.register("redone", redone)
    con.register("fell_due", fell_due if fell_due is not None else pa.table({"loan_id": pa.array([], pa.int64()),
                                                                              "owed": pa.array([], pa.int64())}))
    columns = ", ".join({"business_date": f"{d} AS business_date",
                         "total_outstanding_fen": "v.total_outstanding_fen + coalesce(f.owed, 0) AS "
                                                  "total_outstanding_fen"}.get(c, f"v.{c}") for c in SNAPSHOT.names)
    snapshot = con.sql(f"""
        SELECT * FROM (
            SELECT {columns} FROM eod_previous_all v
            LEFT JOIN fell_due f ON f.loan_id = v.loan_id
            SEMI JOIN eod_loans_all l ON l.loan_id = v.loan_id
            ANTI JOIN eod_redone r ON r.loan_id = v.loan_id
            UNION ALL
            SELECT * FROM redone) t
        ORDER BY loan_id""").to_arrow_table()
    return conform(snapshot, SNAPSHOT)


@dataclass(frozen=True)
class _Unpatched:
    """P's snapshot rows that stay (``_unpatched``), ready for ``_patch`` to write the redone rows into: the integer
    columns as arrays of their own, what fell due (``added``) already added to the total outstanding, the others as
    P's (filtered when loans are gone), every date D. Made while the compiled pass ends (the main thread would only
    wait for it): the copies of 1M-row columns, ≈ 35 ms at 1M loans, are then off the run's critical path."""
    columns: dict[str, np.ndarray | pa.Array | pa.ChunkedArray]
    added: np.ndarray


def _unpatched_in_order(previous: pa.Table, order: _Order, fell_due: pa.Table | None,
                        d: str) -> tuple[np.ndarray, _Unpatched] | None:
    """The loan_ids of P's rows still here (``order.here``) and those rows ``_unpatched``, with what fell due added;
    None when a loan of ``fell_due`` is not among them."""
    here = None if order.here.all() else order.here  # P's rows still here; a filter of every column otherwise
    ids = order.before if here is None else order.before[here]
    added = np.zeros(len(ids), dtype=np.int64)
    if fell_due is not None and fell_due.num_rows:
        where, owed = _places(ids, fell_due.column("loan_id").to_numpy())
        if not owed.all():
            return None
        added[where] = fell_due.column("owed").to_numpy()
    return ids, _unpatched(previous, added, d, here)


def _patched_in_order(previous: pa.Table, order: _Order, redone: pa.Table, fell_due: pa.Table | None,
                      d: str, unpatched: tuple[np.ndarray, _Unpatched] | None = None) -> pa.Table | None:
    """``_merge`` by arrays: P's rows still here (``unpatched``, made now if not given) with the rows of P's loans
    redone written in, then the new loans' rows: after the others, as new loan_ids usually are, or placed by
    ``continued.merged_by_loan``. None when a loan of ``fell_due`` is not among P's."""
    made = unpatched if unpatched is not None else _unpatched_in_order(previous, order, fell_due, d)
    if made is None:
        return None
    ids, base = made
    redone_ids = continued.ints(redone.column("loan_id")) if redone.num_rows else np.empty(0, np.int64)
    at, found = _places(ids, redone_ids)
    if found.all():
        return _patch(base, redone, at)
    patched = _patch(base, redone, at[found], found)
    new = conform(redone.take(np.flatnonzero(~found)), SNAPSHOT)
    if not len(ids) or redone_ids[~found][0] > ids[-1]:  # the new loans' ids after P's
        return pa.concat_tables([patched, new])
    return continued.merged_by_loan(new, patched)


def _patched(previous: pa.Table, redone: pa.Table, at: np.ndarray, added: np.ndarray, d: str,
             here: np.ndarray | None = None) -> pa.Table:
    """``previous`` with the rows at the increasing positions ``at`` replaced by ``redone``'s, ``added`` added to the
    total outstanding, and every date D; ``here``: the rows kept (``at`` and ``added`` count those only), none dropped
    if None. ``previous`` itself is never written."""
    return _patch(_unpatched(previous, added, d, here), redone, at)


def _unpatched(previous: pa.Table, added: np.ndarray, d: str, here: np.ndarray | None = None) -> _Unpatched:
    """``previous``'s rows (``here``'s only, if given) as ``_Unpatched``: integer columns without nulls copied by numpy
    (the rows kept, or all), ``added`` added to the total outstanding (checked), every date D."""
    kept = previous.num_rows if here is None else int(np.count_nonzero(here))
    mask = None if here is None else pa.array(here)

    def column(field: pa.Field) -> np.ndarray | pa.Array | pa.ChunkedArray:
        before = previous.column(field.name)
        if field.name == "business_date":
            return columns.one_date(_day(d), kept)
        if not pa.types.is_integer(field.type) or before.null_count:
            return before if mask is None else before.filter(mask)
        values = continued.ints(before)  # P's own buffer, read in place when it is one chunk: copied, P stays as it was
        values = values[here] if here is not None else values.copy()
        return _with_added(values, added) if field.name == "total_outstanding_fen" else values

    return _Unpatched({field.name: column(field) for field in SNAPSHOT}, added)


def _with_added(values: np.ndarray, added: np.ndarray) -> np.ndarray:
    """``values + added``; int64 wraps silently: checked as the engine's BIGINT arithmetic is."""
    total = values + added
    if np.any(((values ^ total) & (added ^ total)) < 0):
        raise OverflowError("total_outstanding_fen beyond BIGINT after what fell due was added")
    return total


def _patch(unpatched: _Unpatched, redone: pa.Table, at: np.ndarray, found: np.ndarray | None = None) -> pa.Table:
    """``unpatched`` with the rows at the increasing positions ``at`` replaced by ``redone``'s (those ``found`` only, if
    given; what fell due added to their total outstanding too): integer columns written in place (``unpatched`` is used
    up), a column of text (or booleans) by ``_spliced``: only the values that differ."""
    mask = None if found is None else pa.array(found)

    def column(field: pa.Field) -> pa.Array | pa.ChunkedArray:
        current, after = unpatched.columns[field.name], redone.column(field.name)
        if field.name == "business_date":
            return current
        if mask is not None:  # filtered here, column by column on the pool
            after = after.filter(mask)
        if isinstance(current, np.ndarray):
            if not after.null_count:
                replacing = after.to_numpy()
                if field.name == "total_outstanding_fen":
                    replacing = _with_added(replacing, unpatched.added[at])
                current[at] = replacing
                return pa.array(current, field.type)
            current = pa.chunked_array([pa.array(current, field.type)])
        return _spliced(current, after, at)

    with ThreadPoolExecutor(2) as pool:  # the columns side by side: their scatters and splices release the GIL
        return pa.table(list(pool.map(column, SNAPSHOT)), schema=SNAPSHOT)


def _spliced(before: pa.ChunkedArray, after: pa.ChunkedArray, at: np.ndarray) -> pa.ChunkedArray | pa.Array:
    """``before`` with the values at the positions ``at`` replaced by ``after``'s, for a column of text (or
    booleans): only the few values that differ are appended and taken into place (a day changes the level of a
    few loans of every thousand; a replacement under a mask rebuilt every value, twice as slow); text without nulls
    by ``columns.splice_text`` chunk by chunk (``_spliced_text``). ``before`` itself when none differs."""
    after = after.combine_chunks()
    spliced = _spliced_text(before, after, at)
    if spliced is not None:
        return spliced
    whole = before.combine_chunks()  # a take from chunks resolves every index's chunk: several times slower
    moved = pc.fill_null(pc.not_equal(after, whole.take(pa.array(at))), True).to_numpy(zero_copy_only=False)
    if not moved.any():
        return before
    where = at[moved]
    index = np.arange(len(whole))
    index[where] = len(whole) + np.arange(len(where))
    return pc.take(pa.concat_arrays([whole, after.filter(pa.array(moved))]), pa.array(index))


def _spliced_text(before: pa.ChunkedArray, after: pa.Array, at: np.ndarray) -> pa.ChunkedArray | None:
    """``_spliced`` for text without nulls: each chunk of ``before`` spliced with the positions that fall in it (a loop
    over chunks, not values), one copy of the bytes of a chunk where a value differs and none of the others (joining
    the chunks first copied every value of the column, ≈ 3 ms for 1M levels, even of one chunk); None when
    ``columns.splice_text`` cannot take a chunk."""
    starts = np.cumsum([0] + [len(chunk) for chunk in before.chunks])
    cuts = np.searchsorted(at, starts)
    chunks = []
    for k, chunk in enumerate(before.chunks):
        lo, hi = cuts[k], cuts[k + 1]
        spliced = chunk if lo == hi else columns.splice_text(chunk, at[lo:hi] - starts[k], after.slice(lo, hi - lo))
        if spliced is None:
            return None
        chunks.append(spliced)
    return pa.chunked_array(chunks, before.type)
