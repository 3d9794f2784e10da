"""The end-of-day computation (docs/eod.md) as one ordered list of SQL statements, written once in DuckDB's
dialect and transpiled by sqlglot for Spark (``arrears.delinquency.spark``).

Each ``Step`` is one SELECT; the runner stores it under ``name`` (a temp table, or a view when ``view``) for
the steps after it, and the four ``OUTPUTS`` are read back as Arrow. Inputs the SQL reads:
``eod_loans, eod_instalments, eod_settlements, eod_due_dates, eod_previous`` (the EngineInputs) and
``eod_params, eod_grades, eod_levels, eod_names`` (``catalogue.py``). Integers all the way: money is BIGINT,
products of money, days and rate numerators are HUGEINT (DECIMAL(38,0) on Spark) and every division is an integer
division with the product's rounding (``round_ratio_sql``); no DOUBLE, no decimal division.

Order of work: ``main.py`` (a filter of the owing instalments and one grouped scan of them all), ``detail.py``
and ``restructured.py`` (per instalment, only for the loans that are not plain), ``outputs.py`` (levels as
numbers; ``engine.decode_outputs`` turns the snapshot's into codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from arrears.delinquency.sql import detail, main, outputs, restructured
from arrears.products.catalog import RestructuringRules


@dataclass(frozen=True)
class Step:
    name: str
    sql: str
    view: bool = False


INPUTS = ("eod_loans", "eod_instalments", "eod_settlements", "eod_due_dates", "eod_previous")
CATALOGUE = ("eod_params", "eod_grades", "eod_levels", "eod_names")
OUTPUTS = {"snapshot": outputs.SNAPSHOT, "penalties": outputs.PENALTIES, "transitions": outputs.TRANSITIONS,
           "rejected": outputs.REJECTED}
MISSING_DUE_DATES = outputs.MISSING_DUE_DATES
CODED = outputs.CODED


def date_literal(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def steps(business_date: date, rules: RestructuringRules, top: int) -> list[Step]:
    """The statements of a run for ``business_date``; ``top`` is catalogue.top_dpd (dpd keys of eod_grades)."""
    d = date_literal(business_date)
    return [
        Step("eod_due", main.due_sql(d)),
        Step("eod_loan", main.loan_sql(d), view=True),
        Step("eod_owe", main.owe_sql(d)),
        Step("eod_ow", main.ow_sql(d), view=True),
        Step("eod_a", main.a_sql(d), view=True),
        Step("eod_b", main.b_sql(d), view=True),
        Step("eod_missing", main.missing_sql(d)),
        Step("eod_noeff", main.noeff_sql()),
        Step("eod_pre", main.pre_sql(d)),
        Step("eod_prm", detail.prm_sql()),
        Step("eod_dall", detail.dall_sql(d)),
        Step("eod_dsel", detail.dsel_sql(), view=True),
        Step("eod_ds", detail.ds_sql(d)),
        Step("eod_di", detail.di_sql(d), view=True),
        Step("eod_unc", detail.unc_sql(d)),
        Step("eod_rdi", detail.rdi_sql(d)),
        Step("eod_dl", detail.dl_sql()),
        Step("eod_room", detail.room_sql(d), view=True),
        Step("eod_over", detail.over_sql()),
        Step("eod_pen", detail.pen_sql(), view=True),
        Step("eod_plo", detail.plo_sql()),
        Step("eod_dup", detail.dup_sql()),
        Step("eod_rsd", restructured.rsd_sql(d)),
        Step("eod_rsi", restructured.rsi_sql(d)),
        Step("eod_rso", restructured.rso_sql(rules)),
        Step("eod_rsl", restructured.rsl_sql(d)),
        Step("eod_rs", restructured.rs_sql()),
        Step("eod_state", outputs.state_sql(d, rules, top)),
        Step("eod_cmp", outputs.cmp_sql()),
    ]
