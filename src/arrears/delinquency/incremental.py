"""The next business date without recomputing every loan (docs/eod.md, Incremental run).

Between the previous run's date P and D, a loan's result can change only if something about it moved:
it was overdue, had a penalty or was in restructuring observation on P (dpd and penalties grow by the day);
an instalment it still owes fell due or passed its grace in (P, D]; a settlement, reversal or schedule
change reached it since P's run (the caller's ``changed``, plus any settlement seen one by one dated after
P); it has a settlement seen one by one under a capped product (the cap's room grows by the day); it was
not in P's snapshot (new, or rejected on P); or due_dates lacks one of its due dates. Those loans run
through the engine; every other loan's row of P is carried over with D as its date — the result a full run
would give, which ``tests/delinquency/test_incremental.py`` checks over several dates. Set-based: the
selection is SQL in DuckDB, the carried rows one join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import pyarrow as pa

from arrears.delinquency import engine
from arrears.delinquency.model import SNAPSHOT, EngineInputs, EngineOutputs, conform
from arrears.delinquency.sql import date_literal, main
from arrears.products.catalog import Catalog


def _recompute_sql(p: str, d: str) -> str:
    """loan_ids that can change between P and D (see the module text); a superset is always safe."""
    return f"""
WITH params AS (SELECT DISTINCT nbd, g FROM eod_params WHERE known),
moved AS (  -- due dates whose instalments fall due in (P, D] or stop being in grace there, any rule and grace
    SELECT x.due_on FROM eod_due x, params q
    WHERE x.due_on > {p}
       OR CAST((CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) + q.g AS DATE) >= {p}
       OR (CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) IS NULL),
bounds AS (SELECT min(due_on) AS lo FROM moved),
owing AS (  -- the owing instalments on those due dates: a narrow scan, then each one judged by its own product
    SELECT i.loan_id, i.due_on FROM eod_instalments_all i, bounds b
    WHERE i.due_on >= b.lo AND i.due_on <= {d} AND {main.owing('i')} > 0)
SELECT loan_id FROM eod_loans_all WHERE restructured_on IS NOT NULL
UNION SELECT loan_id FROM eod_changed
UNION SELECT loan_id FROM eod_previous_all
      WHERE dpd > 0 OR penalty_due_fen <> 0 OR overdue_penalty_fen <> 0 OR in_observation
UNION SELECT l.loan_id FROM eod_loans_all l ANTI JOIN eod_previous_all v ON v.loan_id = l.loan_id
UNION SELECT o.loan_id FROM owing o  -- falls due in (P, D], or passes its grace there: P - g <= E < D - g
      JOIN eod_loans_all l ON l.loan_id = o.loan_id
      LEFT JOIN eod_params q ON q.product_code = coalesce(l.product_code, '')
                            AND q.annual_rate = coalesce(l.annual_rate, '')
      LEFT JOIN eod_due x ON x.due_on = o.due_on
      WHERE o.due_on > {p} OR coalesce(
          CAST((CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) + q.g AS DATE) >= {p}
          AND CAST((CASE WHEN q.nbd THEN x.e_nbd ELSE x.e_none END) + q.g AS DATE) < {d}, TRUE)
UNION SELECT i.loan_id FROM eod_instalments_all i, (SELECT due_on FROM eod_missing) m WHERE i.due_on = m.due_on
UNION SELECT s.loan_id FROM eod_settlements_all s WHERE s.value_date > {p} AND s.value_date <= {d}
UNION SELECT s.loan_id FROM (SELECT DISTINCT loan_id FROM eod_settlements_all WHERE value_date <= {d}) s
      JOIN eod_loans_all l ON l.loan_id = s.loan_id
      JOIN eod_params q ON q.product_code = coalesce(l.product_code, '') AND q.annual_rate = coalesce(l.annual_rate, '')
      WHERE q.has_cap"""


@dataclass(frozen=True)
class Incremental:
    outputs: EngineOutputs
    recomputed: int  # loans that went through the engine; the others were carried over


def run_incremental(inputs: EngineInputs, business_date: date, catalog: Catalog, *, changed: pa.Array,
                    today: date | None = None, chunk_loans: int = engine.CHUNK_LOANS,
                    on_phase: Callable[[str], None] | None = None) -> Incremental:
    """The run for ``business_date`` given the previous run's snapshot in ``inputs.previous`` (its date P
    < D) and ``changed``: the loan_ids whose settlements or schedule changed since P's run (payments,
    reversals, waivers, backdated or not). Same outputs as ``engine.run`` on the same inputs. ``on_phase``
    is called with each phase's name when it is done (profiling)."""
    done = on_phase or (lambda _: None)
    engine.check_business_date(business_date, today)
    previous = inputs.previous
    if previous.num_rows == 0:
        return Incremental(engine.run(inputs, business_date, catalog, chunk_loans=chunk_loans),
                           inputs.loans.num_rows)
    p_dates = set(previous.column("business_date").unique().to_pylist())
    if len(p_dates) != 1 or next(iter(p_dates)) >= business_date:
        raise ValueError("the previous snapshot must be of one date before the business date")
    p, d = date_literal(next(iter(p_dates))), date_literal(business_date)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    tables = engine.input_tables(inputs)
    for name, table in tables.items():
        con.register(f"{name}_all", table)
    con.register("eod_changed", pa.table({"loan_id": pa.array(changed, pa.int64())}))
    for name, table in engine.catalogue_tables(tables["eod_loans"], catalog).items():
        con.register(name, table)
    con.execute("CREATE TEMP VIEW eod_due_dates AS SELECT * FROM eod_due_dates_all")
    con.execute("CREATE TEMP VIEW eod_instalments AS SELECT * FROM eod_instalments_all")
    con.execute(f"CREATE TEMP TABLE eod_due AS {main.due_sql(d)}")
    con.execute(f"CREATE TEMP TABLE eod_missing AS {main.missing_sql(d)}")
    done("prepare")
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
    con.register("redone", redone.snapshot)
    columns = ", ".join(f"v.{c}" if c != "business_date" else f"{d} AS business_date" for c in SNAPSHOT.names)
    snapshot = con.sql(f"""
        SELECT * FROM (
            SELECT {columns} FROM eod_previous_all v
            SEMI JOIN eod_loans_all l ON l.loan_id = v.loan_id
            ANTI JOIN eod_redo r ON r.loan_id = v.loan_id
            UNION ALL
            SELECT * FROM redone) t
        ORDER BY loan_id""").to_arrow_table()
    con.close()
    snapshot = conform(snapshot, SNAPSHOT)
    done("carry")
    return Incremental(replace(redone, snapshot=snapshot), subset["eod_loans"].num_rows)
