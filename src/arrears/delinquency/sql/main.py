"""The main pass over every loan: one grouped scan of the instalments (no join), and the per-loan sums of
the few settlements passed one by one (docs/eod.md, Inputs: the instalments carry their settled totals).

- ``eod_owe``: the instalments that can weigh (due by D and still owing, or with a penalty settled) — a
  filter, about one row in fifteen; ``eod_ow``: per loan over those, what is owed by D and ``first_owing``, the
  earliest due date ≤ D of an instalment still owing;
- ``eod_a``: per loan over all its instalments: the seqs (bitmask), what is due and settled, over-settlement;
- ``eod_b``: per loan over its settlements seen one by one (value_date ≤ D): their number, earliest date,
  seqs and whether a component is unknown;
- ``eod_missing`` / ``eod_noeff``: due dates ≤ D that due_dates lacks, and the loans that have one.

E is non-decreasing in due_on (the holiday rule moves a date to the next business day, never past a later
due date's), so the instalment with ``first_owing`` has the earliest E of those still owing: the loan has
something past due exactly when that one is past due. ``eod_pre`` sends a loan to the per-instalment detail
(``detail.py``) unless it is *plain*: nothing past due and owing, no settlement seen one by one (none can
carry penalty weight), no penalty settled, E known and not restructured. A plain loan has dpd 0, every
overdue amount and every penalty 0; the sums of ``eod_a`` give the rest of its snapshot row.
"""

from __future__ import annotations

# Settlement component → code (0: not one of the five, a rejection).
COMPONENT_CODE = ("CASE component WHEN 'principal' THEN 1 WHEN 'interest' THEN 2 WHEN 'fee' THEN 3 "
                  "WHEN 'cost' THEN 4 WHEN 'penalty' THEN 5 ELSE 0 END")
MASK_BITS = 63  # seqs 1..63 fit a BIGINT bitmask
# eod_a.flags: a due amount is negative; a component is settled beyond its due; a penalty was settled; something
# is still owed (a loan not rejected owes nothing negative, so "nothing owed" is "all settled"); a seq outside
# 1..63 (the bitmask cannot hold it).
FLAG_NEGATIVE, FLAG_OVER, FLAG_SPEN, FLAG_OWING, FLAG_SEQ_RANGE = 1, 2, 4, 8, 16
COMPONENTS = ("principal", "interest", "fee", "cost")


def owing(alias: str = "") -> str:
    """SQL: what an instalment row (of eod_instalments, as ``alias``) still owes of its four due components."""
    a = f"{alias}." if alias else ""
    return " + ".join(f"({a}{c}_due_fen - {a}{c}_settled_fen)" for c in COMPONENTS)


def owes(alias: str = "") -> str:
    """SQL: whether an instalment row still owes one of its four due components. Comparisons, not the checked
    sums of ``owing``: for a loan that is not rejected (no component settled beyond its due) the two agree."""
    a = f"{alias}." if alias else ""
    return "(" + " OR ".join(f"{a}{c}_due_fen > {a}{c}_settled_fen" for c in COMPONENTS) + ")"


def when_negative(x: str, flag: int, bits: int = 64) -> str:
    """SQL: ``flag`` if the ``bits``-bit integer ``x`` is negative, else 0 — the sign bit, shifted
    arithmetically: integer operations, far cheaper per row than a CASE (one instalment row each)."""
    return f"((({x}) >> {bits - 1}) & {flag})"


def flags_sql() -> str:
    """SQL: a loan's FLAG_* bits, an aggregate over its instalment rows. Sign bits where no checked
    arithmetic is needed (``x | -x`` is negative exactly when x ≠ 0; an OR of numbers is negative exactly
    when one of them is), comparisons for the components owed or settled beyond their due: a checked
    subtraction per component costs more than the comparison. A loan not rejected has no component settled
    beyond its due, so "owes nothing" is "all settled"."""
    dues = " | ".join(f"{c}_due_fen" for c in COMPONENTS)
    over = " OR ".join(f"{c}_settled_fen > {c}_due_fen" for c in COMPONENTS)
    bits = " | ".join([
        when_negative(dues, FLAG_NEGATIVE), when_negative("penalty_settled_fen | -penalty_settled_fen", FLAG_SPEN),
        when_negative(f"(seq - 1) | ({MASK_BITS} - seq)", FLAG_SEQ_RANGE, bits=32)])
    return (f"bit_or({bits}) | CASE WHEN bool_or({over}) THEN {FLAG_OVER} ELSE 0 END"
            f" | CASE WHEN bool_or({owes()}) THEN {FLAG_OWING} ELSE 0 END")


def seq_bit(seq: str) -> str:
    """SQL: the bit of ``seq`` in a BIGINT bitmask of seqs 1..63 (a seq outside is in FLAG_SEQ_RANGE)."""
    return f"1::BIGINT << ((({seq} - 1) & 63) % {MASK_BITS})"  # always 0..62: no shift overflows


def settled_rows(d: str) -> str:
    """The settlements seen one by one (value_date ≤ D), with their component as a code."""
    return (f"(SELECT loan_id, seq, due_on, {COMPONENT_CODE} AS code, amount_fen, value_date "
            f"FROM eod_settlements WHERE value_date <= {d})")


def due_sql(d: str) -> str:
    """Effective due date per contractual due date ≤ D, one column per holiday rule."""
    return f"""
SELECT due_on,
       max(CASE WHEN holiday_rule = 'none' THEN effective_due END) AS e_none,
       max(CASE WHEN holiday_rule = 'next_business_day' THEN effective_due END) AS e_nbd
FROM eod_due_dates WHERE due_on <= {d} GROUP BY due_on"""


def loan_sql(d: str) -> str:
    """Each loan with its product's parameters (a restructuring dated after D has not happened yet)."""
    return f"""
SELECT l.loan_id, l.borrower_id, l.principal_fen, l.disbursed_on,
       CASE WHEN l.restructured_on <= {d} THEN l.restructured_on END AS restructured_on,
       p.pid, p.known, p.prod_no, p.g, p.nbd, p.kind, p.compound
FROM eod_loans l
JOIN eod_params p ON p.product_code = coalesce(l.product_code, '') AND p.annual_rate = coalesce(l.annual_rate, '')"""


# The rows eod_owe keeps (``detail.dsel_sql`` takes the others of the loans that need them all).
PICKED = f"(due_on <= {{d}} AND {owes()}) OR penalty_settled_fen <> 0"


def owe_sql(d: str) -> str:
    """The instalments that can weigh in a loan's results: due by D and still owing, or with a penalty settled
    (a filter, no join). One fully settled by its due date adds nothing to what is owed, dpd, overdue amounts or
    penalties; one settled after it comes in with the settlements seen one by one (``detail.ds_sql``)."""
    return f"""
SELECT loan_id, seq, due_on, principal_due_fen AS pd, interest_due_fen AS id_, fee_due_fen AS fd,
       cost_due_fen AS cd, principal_settled_fen AS sp, interest_settled_fen AS si, fee_settled_fen AS sf,
       cost_settled_fen AS sc, penalty_settled_fen AS spen
FROM eod_instalments WHERE {PICKED.format(d=d)}"""


def ow_sql(d: str) -> str:
    """Per loan, over its instalments due by D and still owing: what they owe, and the earliest due date. The
    instalments that owe nothing add 0 (a loan with a component settled beyond its due is rejected)."""
    return f"""
SELECT loan_id, sum((id_ - si) + (fd - sf) + (cd - sc)) AS owed, min(due_on) AS first_owing
FROM eod_owe WHERE due_on <= {d} AND (pd > sp OR id_ > si OR fd > sf OR cd > sc) GROUP BY loan_id"""


def a_sql(d: str) -> str:
    """Per loan, over all its instalments as given (no join). Each aggregate costs about a tenth of the
    floor: the rare conditions share one ``flags`` bitmask (``FLAG_*``), built with integer operations, and
    what only the owing instalments decide is in ``eod_ow``."""
    return f"""
SELECT loan_id, count(*) AS n, bit_or({seq_bit('seq')}) AS seq_mask, sum(principal_due_fen) AS sum_pd,
       {flags_sql()} AS flags,
       sum(principal_due_fen - principal_settled_fen) AS outstanding_principal,
       sum(CASE WHEN due_on <= {d} THEN interest_due_fen + fee_due_fen ELSE 0 END) AS used
FROM eod_instalments GROUP BY loan_id"""


def b_sql(d: str) -> str:
    """Per loan, over its settlements seen one by one."""
    return f"""
SELECT loan_id, count(*) AS rows_all, min(value_date) AS min_v, min(seq) AS min_seq, max(seq) AS max_seq,
       max(CASE WHEN code = 0 THEN 1 ELSE 0 END) AS bad_comp
FROM {settled_rows(d)} s GROUP BY loan_id"""


def missing_sql(d: str) -> str:
    """Due dates ≤ D of the instalments that due_dates lacks, per holiday rule (usually none)."""
    return f"""
SELECT u.due_on, x.e_none IS NULL AS miss_none, x.e_nbd IS NULL AS miss_nbd
FROM (SELECT DISTINCT due_on FROM eod_instalments WHERE due_on <= {d}) u
LEFT JOIN eod_due x ON x.due_on = u.due_on
WHERE x.e_none IS NULL OR x.e_nbd IS NULL"""


def noeff_sql() -> str:
    """Loans with an instalment whose E is missing under their product's holiday rule."""
    return """
SELECT DISTINCT i.loan_id
FROM eod_instalments i
JOIN eod_missing m ON m.due_on = i.due_on
JOIN eod_loan l ON l.loan_id = i.loan_id
WHERE l.known AND CASE WHEN l.nbd THEN m.miss_nbd ELSE m.miss_none END"""


def pre_sql(d: str) -> str:
    """Per loan: the rejection reasons the sums decide and whether the loan needs the detail.

    ``seq_state``: 1 the seqs are 1..n, 0 they are not, NULL undecided (more than 63: the detail decides).
    ``later_reason``: the first reason after the seqs' (docs/eod.md order), all decided by the sums. Only what
    the steps after it need: the detail takes the product's parameters from ``eod_prm`` by ``pid``."""
    full = f"CASE WHEN n = {MASK_BITS} THEN {2**MASK_BITS - 1} ELSE (1::BIGINT << CAST(n AS INTEGER)) - 1 END"
    return f"""
SELECT loan_id, borrower_id, restructured_on, pid, known, prod_no, seq_state, later_reason, no_eff,
       outstanding_principal, owed, used,
       (flags & {FLAG_OWING}) = 0 AS all_settled,
       known AND (seq_state IS NULL OR (seq_state = 1 AND later_reason IS NULL AND (
           restructured_on IS NOT NULL OR no_eff = 1 OR (flags & {FLAG_SPEN}) <> 0 OR rows_all > 0
           OR coalesce(CAST(first_owing_e + g AS DATE) < {d}, FALSE)))) AS needs_detail
FROM (
    SELECT t.*,
           CASE WHEN n > {MASK_BITS} THEN NULL WHEN seq_mask = {full} AND (flags & {FLAG_SEQ_RANGE}) = 0 THEN 1
                ELSE 0 END AS seq_state,
           CASE WHEN sum_pd <> principal_fen THEN 'principal_sum_mismatch'
                WHEN (flags & {FLAG_NEGATIVE}) <> 0 THEN 'negative_due'
                WHEN min_v < disbursed_on THEN 'settlement_before_disbursement'
                WHEN min_seq < 1 OR max_seq > n THEN 'settlement_unknown_seq'
                WHEN bad_comp = 1 THEN 'settlement_unknown_component'
                WHEN (flags & {FLAG_OVER}) <> 0 THEN 'over_settled' END AS later_reason
    FROM (
        SELECT l.loan_id, l.borrower_id, l.principal_fen, l.disbursed_on, l.restructured_on,
               l.pid, l.known, l.prod_no, l.g, l.nbd, l.kind, l.compound,
               coalesce(a.n, 0) AS n, coalesce(a.seq_mask, 0) AS seq_mask, coalesce(a.sum_pd, 0) AS sum_pd,
               coalesce(a.flags, 0) AS flags,
               coalesce(a.outstanding_principal, 0) AS outstanding_principal,
               coalesce(w.owed, 0) AS owed, coalesce(a.used, 0) AS used,
               CASE WHEN l.nbd THEN x.e_nbd ELSE x.e_none END AS first_owing_e,
               CASE WHEN z.loan_id IS NULL THEN 0 ELSE 1 END AS no_eff,
               coalesce(b.rows_all, 0) AS rows_all, b.min_v, b.min_seq, b.max_seq, coalesce(b.bad_comp, 0) AS bad_comp
        FROM eod_loan l
        LEFT JOIN eod_a a ON a.loan_id = l.loan_id
        LEFT JOIN eod_b b ON b.loan_id = l.loan_id
        LEFT JOIN eod_noeff z ON z.loan_id = l.loan_id
        LEFT JOIN eod_ow w ON w.loan_id = l.loan_id
        LEFT JOIN eod_due x ON x.due_on = w.first_owing
    ) t
) u"""
