"""What a run keeps for the next business date's incremental run (docs/eod.md, Incremental run), and the SQL that
picks it up again.

A run keeps, of every *detail* loan (``eod_pre.needs_detail``), the engine's own per-loan and per-instalment rows
that do not depend on the business date as long as nothing reaches the loan: its ``eod_pre`` row, its ``eod_dsel``
rows (the instalments that can weigh) and its ``eod_ds`` rows (the late-settlement weights Σ a·(v − E) per seq).
Everything that moves with the date — E + g against D, the open chunks' days, the penalty, the cap's room, dpd,
levels — is computed from them by the engine's later steps (``eod_di`` onwards), unchanged. The next run puts
the kept rows of its quiet loans beside the rows its first steps make for the loans it recomputes, and runs the
later steps once over both.
"""

from __future__ import annotations

# The kept rows, read from the engine's temp tables at the end of a run (or of each chunk). Sums are HUGEINT in the
# engine; kept as BIGINT (DuckDB reads Arrow's 128-bit decimals several times slower) and cast back when read. A
# loan with a sum beyond BIGINT is kept ``wide``: never continued, always recomputed.
WIDE = {"pre": ("outstanding_principal", "owed", "used"), "ds": ("wsp", "wsi", "pi_after_grace", "pi_after_due")}


def _narrow(columns: tuple[str, ...], alias: str) -> str:
    return ", ".join(f"TRY_CAST({alias}.{c} AS BIGINT) AS {c}" for c in columns)


def _wide(columns: tuple[str, ...], alias: str) -> str:
    return " OR ".join(f"({alias}.{c} IS NOT NULL AND TRY_CAST({alias}.{c} AS BIGINT) IS NULL)" for c in columns)


def keep_sql(pre: str = "eod_pre", dsel: str = "eod_dsel", ds: str = "eod_ds") -> dict[str, str]:
    """The kept rows of the detail loans, from the engine's tables of those names."""
    return {
        "pre": f"""
SELECT p.* REPLACE ({_narrow(WIDE["pre"], "p")}),
       {_wide(WIDE["pre"], "p")} OR p.loan_id IN (SELECT s.loan_id FROM {ds} s WHERE {_wide(WIDE["ds"], "s")}) AS wide
FROM {pre} p WHERE p.needs_detail""",
        "dsel": f"SELECT i.* FROM {dsel} i SEMI JOIN {pre} p ON p.loan_id = i.loan_id AND p.needs_detail",
        "ds": f"SELECT s.* REPLACE ({_narrow(WIDE['ds'], 's')}) FROM {ds} s",
    }


KEEP = keep_sql()
# A kept eod_pre row the later steps can continue: a loan evaluated (not rejected), its seqs decided by the
# bitmask (≤ 63 instalments: eod_dup needs all its instalments), not restructured (the observation needs all its
# instalments and the settlements one by one), every due date with its E.
CONTINUABLE = ("c.known AND c.seq_state = 1 AND c.later_reason IS NULL AND c.restructured_on IS NULL "
               "AND c.no_eff = 0 AND NOT c.wide")
# eod_params columns that must be equal for a kept pid to stand for the same parameters today.
PARAM_COLUMNS = ("known", "prod_no", "g", "nbd", "kind", "compound", "mode", "pen_num", "pen_den", "fee_num",
                 "fee_den", "has_cap", "cap_num", "cap_den")


def pid_map_sql() -> str:
    """The kept run's pid → today's pid, for the (product, rate) pairs whose parameters are all unchanged."""
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in PARAM_COLUMNS)
    return f"""
SELECT o.pid AS old_pid, n.pid, n.has_cap
FROM carry_params o JOIN eod_params n ON n.product_code = o.product_code AND n.annual_rate = o.annual_rate
WHERE {same}"""


def due_changed_sql(p: str) -> str:
    """Rows of the kept run's eod_due that today's differs from (an E moved: the kept weights are stale)."""
    return f"""
SELECT count(*) FROM (
    (SELECT due_on, e_none, e_nbd FROM carry_due EXCEPT SELECT due_on, e_none, e_nbd FROM eod_due WHERE due_on <= {p})
    UNION ALL
    (SELECT due_on, e_none, e_nbd FROM eod_due WHERE due_on <= {p} EXCEPT SELECT due_on, e_none, e_nbd FROM carry_due)
) t"""


def old_sql() -> str:
    """The kept detail loans the later steps can continue, with today's pid."""
    return f"""
SELECT c.loan_id, m.pid, m.has_cap FROM carry_pre c JOIN carry_pid m ON m.old_pid = c.pid WHERE {CONTINUABLE}"""


def hugeint_view(name: str, columns: list[str], table: str) -> str:
    """A view of a kept table with the engine's types: its BIGINT sums (``WIDE``) as HUGEINT again."""
    wide = WIDE.get(name, ())
    listed = ", ".join(f"CAST({c} AS HUGEINT) AS {c}" if c in wide else c for c in columns)
    return f"SELECT {listed} FROM {table}"
