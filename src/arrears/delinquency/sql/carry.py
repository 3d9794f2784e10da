"""What a run keeps for the next business date's incremental run (docs/eod.md, Incremental run), and the SQL that
continues from it.

A run keeps, of every *detail* loan (``eod_pre.needs_detail``), the engine's own rows that do not depend on the
business date as long as nothing reaches the loan: its ``eod_pre`` row and, per instalment, the part of its ``eod_di``
row that the penalty reads and that no date moves (``KEPT_DI``): what it still owes, its late-settlement weights
Σ a·(v − E) (``eod_ds``), the card's unpaid minimum before its grace, its E, its product's grace, penalty kind and
pid. On D the date columns are computed again from them (``di_sql``: the same expressions as ``detail.di_sql``),
and the engine's steps from ``eod_unc`` on — the penalty and its rounding, the cap, dpd, the snapshot row,
transitions — run unchanged over those rows and the recomputed loans' rows together.

For a loan nothing reached since P (no settlement, reversal or schedule change, no instalment falling due in
(P, D], no due date without E, its product's parameters and every E ≤ P unchanged) the engine's first steps on D
would give exactly the kept rows: they read only its loan row, its instalments' due and settled amounts, its
settlements dated ≤ D (none in (P, D]) and the E of its due dates ≤ D (all ≤ P); the one date they compare —
the first owing instalment's E + g against the date, for ``needs_detail`` — can only turn a loan detail, not
back. So what ``eod_unc`` reads of it on D is the kept row with the date columns of D: W(D) = W_settled + unpaid ×
(D − E), which is W(P) + unpaid × (D − P) for an instalment already past due on P.
"""

from __future__ import annotations

from arrears.delinquency.sql import detail

# The kept columns of a detail instalment (``keep_sql``), from which ``di_sql`` gives ``detail.UNC_INPUT`` on D.
KEPT_DI = ("loan_id", "seq", "spen", "kind", "compound", "pid", "eff", "g", "open_p", "open_i", "open_f",
           "card_owed", "wsp", "wsi", "as_of")
# Sums are HUGEINT in the engine; kept as BIGINT (DuckDB reads Arrow's 128-bit decimals several times slower) and
# cast back when read. A loan with a sum beyond BIGINT is kept ``wide``: never continued, always recomputed.
WIDE = {"pre": ("outstanding_principal", "owed", "used"), "di": ("wsp", "wsi", "pi_after_grace", "pi_after_due")}


def _narrow(columns: tuple[str, ...], alias: str) -> str:
    return ", ".join(f"TRY_CAST({alias}.{c} AS BIGINT) AS {c}" for c in columns)


def _wide(columns: tuple[str, ...], alias: str) -> str:
    return " OR ".join(f"({alias}.{c} IS NOT NULL AND TRY_CAST({alias}.{c} AS BIGINT) IS NULL)" for c in columns)


def keep_sql(d: str, pre: str = "eod_pre") -> dict[str, str]:
    """The kept rows of the detail loans, from ``pre`` (eod_pre's rows) and kept_di_rows (``keep_di_rows``), dated
    ``as_of`` D: a loan's di rows are those with its pre row's ``as_of`` (the kept di rows are only ever added to;
    a loan recomputed later has newer ones, ``compact_sql`` drops the others now and then), ``rows`` of them (their
    sum over the kept pre rows is how many of the di rows are live)."""
    return {
        "pre": f"""
SELECT p.* REPLACE ({_narrow(WIDE["pre"], "p")}),
       {_wide(WIDE["pre"], "p")} OR p.loan_id IN (SELECT x.loan_id FROM kept_di_rows x WHERE {_wide(WIDE["di"], "x")})
       AS wide, {d} AS as_of, coalesce(n.rows, 0) AS rows
FROM {pre} p LEFT JOIN (SELECT loan_id, count(*) AS rows FROM kept_di_rows GROUP BY loan_id) n ON n.loan_id = p.loan_id
WHERE p.needs_detail""",
        "di": f"""
SELECT x.loan_id, x.seq, x.spen, x.kind, x.compound, x.pid, x.eff, x.g, x.pd - x.sp AS open_p, x.id_ - x.si AS open_i,
       (x.fd - x.sf) + (x.cd - x.sc) AS open_f,
       TRY_CAST(x.pd + x.id_ - (x.sp + x.si - coalesce(x.pi_after_grace, 0)) AS BIGINT) AS card_owed,
       {_narrow(("wsp", "wsi"), "x")}, {d} AS as_of
FROM kept_di_rows x""",
    }


def keep_di_rows() -> str:
    """eod_di's rows without the date's columns (``detail.di_base_sql``, over eod_pre), stored once for ``keep_sql``
    to read twice."""
    return f"CREATE OR REPLACE TEMP TABLE kept_di_rows AS {detail.di_base_sql()}"


def di_sql(d: str, kept: str) -> str:
    """``detail.UNC_INPUT`` on D from the kept rows (``kept``: a query of ``KEPT_DI``): the date columns by
    ``detail.di_sql``'s expressions — E + g against D, and the open principal's and interest's days from E to D
    added to the kept late-settlement weights; the card's unpaid minimum once past its grace.
    ``tests/delinquency/test_incremental_carry.py`` checks these rows against the engine's, column for column."""
    late_days = f"date_diff('day', i.eff, {d})"
    return f"""
SELECT i.loan_id, i.seq, i.spen, i.kind, i.compound, i.pid, i.eff, i.past_due,
       CAST(coalesce(i.wsp, 0) AS HUGEINT) + CASE WHEN i.past_due AND i.open_p > 0
           THEN CAST(i.open_p AS HUGEINT) * {late_days} ELSE 0 END AS w_p,
       CAST(coalesce(i.wsi, 0) AS HUGEINT) + CASE WHEN i.past_due AND i.open_i > 0
           THEN CAST(i.open_i AS HUGEINT) * {late_days} ELSE 0 END AS w_i,
       CASE WHEN i.past_due THEN greatest(0, CAST(i.card_owed AS HUGEINT)) ELSE 0 END AS card_base,
       i.open_p, i.open_i, i.open_f
FROM (SELECT t.*, coalesce(date_diff('day', t.eff, {d}) > t.g, FALSE) AS past_due FROM {kept} t) i"""


# A kept eod_pre row the later steps can continue: a loan evaluated (not rejected), its seqs decided by the
# bitmask (≤ 63 instalments: eod_dup needs all its instalments), not restructured (the observation needs all its
# instalments and the settlements one by one), every due date with its E.
CONTINUABLE = ("c.known AND c.seq_state = 1 AND c.later_reason IS NULL AND c.restructured_on IS NULL "
               "AND c.no_eff = 0 AND NOT c.wide")
# eod_params columns that must be equal for a kept pid to stand for the same parameters today.
PARAM_COLUMNS = ("known", "prod_no", "g", "nbd", "kind", "compound", "mode", "pen_num", "pen_den", "fee_num",
                 "fee_den", "has_cap", "cap_num", "cap_den")


def passed_sql(pre: str = "eod_pre_new") -> str:
    """The loans of ``pre`` (recomputed today, their rows kept by ``keep_sql``) that the compiled pass can evaluate as
    it does the continued ones (``continued.py``): evaluated, seqs decided, not restructured, every due date with
    its E, no sum beyond BIGINT — detail or plain (a plain loan has no di rows: its sums are 0). The others (rejected,
    restructured, …) go through the engine's later steps."""
    return f"""
SELECT p.loan_id FROM {pre} p
WHERE p.known AND p.seq_state = 1 AND p.later_reason IS NULL AND p.restructured_on IS NULL AND p.no_eff = 0
  AND NOT ({_wide(WIDE["pre"], "p")})
  AND (NOT p.needs_detail OR p.loan_id NOT IN (SELECT x.loan_id FROM kept_di_rows x WHERE {_wide(WIDE["di"], "x")}))"""


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
    """The kept detail loans the later steps can continue, with today's pid and the place of their kept row."""
    return f"""
SELECT c.loan_id, m.pid, m.has_cap, c.row FROM carry_pre c JOIN carry_pid m ON m.old_pid = c.pid WHERE {CONTINUABLE}"""


def compact_sql() -> str:
    """The kept di rows that are live: those of a kept loan with its pre row's ``as_of`` (``kept_pre`` holds
    the next date's pre rows of the loans kept from P)."""
    return """
SELECT k.* FROM carry_di k SEMI JOIN kept_pre_raw p ON p.loan_id = k.loan_id AND p.as_of = k.as_of"""


def hugeint_view(name: str, columns: list[str], table: str) -> str:
    """A view of a kept table with the engine's types: its BIGINT sums (``WIDE``) as HUGEINT again."""
    wide = WIDE.get(name, ())
    listed = ", ".join(f"CAST({c} AS HUGEINT) AS {c}" if c in wide else c for c in columns)
    return f"SELECT {listed} FROM {table}"
