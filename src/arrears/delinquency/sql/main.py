"""The main pass over every loan: grouped by loan_id, no per-instalment aggregation (views, joined in eod_pre).

- ``eod_a``: all instalments as given: the seqs (bitmask), what is due in all and by D, the least due amount;
- ``eod_ild``: the instalments due by D with ``late_after`` = E + g (a table: the build side of ``eod_b``);
- ``eod_a2``: what past-due instalments owe, and whether due_dates lacks an E;
- ``eod_b``: the settlements (value_date ≤ D), each joined to its instalment due by D.

Outstanding principal, what all instalments still owe and the earliest value date are sums over these rows
for every loan. The rest (dpd, overdue amounts, penalties, over-settlement, unknown seqs and components,
restructuring) needs each instalment's own settled amounts, so ``eod_pre`` sends a loan to the
per-instalment detail (``detail.py``) unless the sums prove it *plain*:

- every settlement row is *good*: it names an instalment due by D and one of the four due components,
  0 < amount ≤ that component's due, its seq ≤ 63, and a principal or interest row is not late (t ≤ E + g);
- each (seq, component) has one row at most (per component, the population count of the bitmask of its
  seqs equals its row count);
- the rows on past-due instalments add up to everything past-due instalments owe;
- E is known for every instalment due by D, and the loan is not restructured.

Then every positive due amount of a past-due instalment is settled exactly, nothing is over-settled and no
chunk is late: dpd = 0, every overdue amount and every penalty is 0.
"""

from __future__ import annotations

# Settlement component → code (0: not one of the five, a rejection).
COMPONENT_CODE = ("CASE component WHEN 'principal' THEN 1 WHEN 'interest' THEN 2 WHEN 'fee' THEN 3 "
                  "WHEN 'cost' THEN 4 WHEN 'penalty' THEN 5 ELSE 0 END")
MASK_BITS = 63  # seqs 1..63 fit a BIGINT bitmask


def seq_bit(seq: str) -> str:
    """SQL: the bit of ``seq`` in a BIGINT bitmask of seqs 1..63 (0 for any other seq)."""
    return f"CASE WHEN {seq} BETWEEN 1 AND {MASK_BITS} THEN 1::BIGINT << ({seq} - 1) ELSE 0 END"


def settled_rows(d: str) -> str:
    """The settlements the run sees (value_date ≤ D), with their component as a code."""
    return (f"(SELECT loan_id, seq, {COMPONENT_CODE} AS code, amount_fen, value_date "
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
SELECT l.loan_id, l.borrower_id, l.product_code, l.principal_fen, l.disbursed_on,
       CASE WHEN l.restructured_on <= {d} THEN l.restructured_on END AS restructured_on,
       p.pid, p.known, p.prod_no, p.g, p.nbd, p.kind, p.compound
FROM eod_loans l
JOIN eod_params p ON p.product_code = coalesce(l.product_code, '') AND p.annual_rate = coalesce(l.annual_rate, '')"""


def a_sql(d: str) -> str:
    """Per loan, over all its instalments as given (no join): seqs, sums of what is due."""
    return f"""
SELECT loan_id, count(*) AS n, bit_or({seq_bit('seq')}) AS seq_mask, sum(principal_due_fen) AS sum_pd,
       min(least(principal_due_fen, interest_due_fen, fee_due_fen, cost_due_fen)) AS min_due,
       sum(principal_due_fen + interest_due_fen + fee_due_fen + cost_due_fen) AS due_all,
       sum(CASE WHEN due_on <= {d} THEN interest_due_fen + fee_due_fen + cost_due_fen ELSE 0 END) AS due_owed
FROM eod_instalments GROUP BY loan_id"""


def ild_sql(d: str) -> str:
    """The instalments due by D (due_on ≤ D) of loans of known products, with ``late_after`` = E + g: a date
    t is late for the instalment when t > late_after, and it is past due on D when late_after < D (NULL when
    due_dates lacks its E). Kept narrow: it is the build side of the settlements' join."""
    return f"""
SELECT i.loan_id, i.seq, i.principal_due_fen AS pd, i.interest_due_fen AS id_, i.fee_due_fen AS fd,
       i.cost_due_fen AS cd, CAST((CASE WHEN l.nbd THEN x.e_nbd ELSE x.e_none END) + l.g AS DATE) AS late_after
FROM eod_instalments i
JOIN eod_loan l ON l.loan_id = i.loan_id AND l.known
LEFT JOIN eod_due x ON x.due_on = i.due_on
WHERE i.due_on <= {d}"""


def a2_sql(d: str) -> str:
    """Per loan, over its instalments due by D: what past-due instalments owe, and whether an E is missing."""
    return f"""
SELECT loan_id, sum(CASE WHEN late_after < {d} THEN pd + id_ + fd + cd ELSE 0 END) AS past_due_owed,
       max(CASE WHEN late_after IS NULL THEN 1 ELSE 0 END) AS no_eff
FROM eod_ild GROUP BY loan_id"""


def b_sql(d: str) -> str:
    """Per loan, over its settlement rows, each with its instalment if that is due by D (``matched``).

    A row is *good* when it is matched, of one of the four due components, 0 < amount ≤ due, its seq ≤ 63
    and, for principal and interest, not late."""
    good = (f"matched AND code BETWEEN 1 AND 4 AND amount_fen > 0 AND seq <= {MASK_BITS} AND amount_fen <= due_c "
            "AND (code > 2 OR value_date <= late_after)")
    masks = " + ".join(f"bit_count(bit_or(CASE WHEN code = {c} THEN {seq_bit('seq')} ELSE 0 END))"
                       for c in (1, 2, 3, 4))
    return f"""
SELECT loan_id, count(*) AS rows_all, min(value_date) AS min_v,
       sum(CASE WHEN {good} THEN 1 ELSE 0 END) AS rows_good, {masks} AS rows_distinct,
       sum(CASE WHEN code = 1 THEN amount_fen ELSE 0 END) AS set_p,
       sum(CASE WHEN code BETWEEN 1 AND 4 THEN amount_fen ELSE 0 END) AS set_all,
       sum(CASE WHEN late_after < {d} AND code < 5 THEN amount_fen ELSE 0 END) AS set_past_due
FROM (
    SELECT s.loan_id, s.seq, s.code, s.amount_fen, s.value_date, i.loan_id IS NOT NULL AS matched,
           i.late_after, CASE s.code WHEN 1 THEN i.pd WHEN 2 THEN i.id_ WHEN 3 THEN i.fd WHEN 4 THEN i.cd END AS due_c
    FROM {settled_rows(d)} s
    LEFT JOIN eod_ild i ON i.loan_id = s.loan_id AND i.seq = s.seq
) t
GROUP BY loan_id"""


def pre_sql() -> str:
    """Per loan: the rejection reasons the sums decide and whether the loan needs the detail (not plain).

    ``seq_state``: 1 the seqs are 1..n, 0 they are not, NULL undecided (more than 63: the detail decides).
    A plain loan's settlements all name an instalment due by D and a known component; for the others the
    detail decides those two reasons. ``owed`` (interest, fees, costs due by D and unsettled) holds for a
    plain loan, whose settlements are all on instalments due by D."""
    full = f"CASE WHEN n = {MASK_BITS} THEN {2**MASK_BITS - 1} ELSE (1::BIGINT << CAST(n AS INTEGER)) - 1 END"
    return f"""
SELECT loan_id, borrower_id, product_code, principal_fen, disbursed_on, restructured_on, pid, known, prod_no,
       g, nbd, kind, compound, seq_state, later_reason, no_eff,
       sum_pd - set_p AS outstanding_principal, due_owed - (set_all - set_p) AS owed, due_all - set_all AS unsettled,
       known AND (seq_state IS NULL OR (seq_state = 1 AND later_reason IS NULL AND NOT (
           restructured_on IS NULL AND no_eff = 0 AND rows_good = rows_all AND rows_distinct = rows_all
           AND set_past_due = past_due_owed))) AS needs_detail
FROM (
    SELECT t.*,
           CASE WHEN n > {MASK_BITS} THEN NULL WHEN seq_mask = {full} THEN 1 ELSE 0 END AS seq_state,
           CASE WHEN sum_pd <> principal_fen THEN 'principal_sum_mismatch'
                WHEN min_due < 0 THEN 'negative_due'
                WHEN min_v < disbursed_on THEN 'settlement_before_disbursement' END AS later_reason
    FROM (
        SELECT l.loan_id, l.borrower_id, l.product_code, l.principal_fen, l.disbursed_on, l.restructured_on,
               l.pid, l.known, l.prod_no, l.g, l.nbd, l.kind, l.compound,
               coalesce(a.n, 0) AS n, coalesce(a.seq_mask, 0) AS seq_mask, coalesce(a.sum_pd, 0) AS sum_pd,
               coalesce(a.min_due, 0) AS min_due, coalesce(a.due_all, 0) AS due_all,
               coalesce(a.due_owed, 0) AS due_owed,
               coalesce(a2.past_due_owed, 0) AS past_due_owed, coalesce(a2.no_eff, 0) AS no_eff,
               coalesce(b.rows_all, 0) AS rows_all, b.min_v,
               coalesce(b.rows_good, 0) AS rows_good, coalesce(b.rows_distinct, 0) AS rows_distinct,
               coalesce(b.set_p, 0) AS set_p, coalesce(b.set_all, 0) AS set_all,
               coalesce(b.set_past_due, 0) AS set_past_due
        FROM eod_loan l
        LEFT JOIN eod_a a ON a.loan_id = l.loan_id
        LEFT JOIN eod_a2 a2 ON a2.loan_id = l.loan_id
        LEFT JOIN eod_b b ON b.loan_id = l.loan_id
    ) t
) u"""
