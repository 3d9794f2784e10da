"""Per-loan state, the snapshot and the four output tables (docs/eod.md, Loan state, Transitions, Outputs)."""

from __future__ import annotations

from arrears.delinquency.sql.restructured import floor_kind_sql
from arrears.products.catalog import RestructuringRules

REASON_SEQ = "seq_not_1_to_n"
REASON_OVER = "over_settled"


def state_sql(d: str, rules: RestructuringRules, top: int) -> str:
    """Every loan: its rejection reason (the first in the doc's order) or its snapshot row, with what the
    transitions need (level indexes and first levels). A loan that needs no detail (most of them) has no
    row in the detail tables: its dpd, overdue amounts and penalties are 0, it has no floor, and it is not
    joined with them. Levels are numbers (``catalogue.py``): strings cost far more to store and read back."""
    reason = f"""CASE WHEN NOT p.known THEN 'unknown_product'
                WHEN p.seq_state = 0 OR (p.seq_state IS NULL AND NOT u.seq_ok) THEN '{REASON_SEQ}'
                ELSE p.later_reason END"""
    common = "p.loan_id, p.borrower_id, p.prod_no, p.outstanding_principal, p.no_eff"
    return f"""
SELECT {d} AS business_date, s.loan_id, s.borrower_id, s.prod_no, s.reason, CAST(s.dpd AS INTEGER) AS dpd,
       CAST(s.overdue_principal AS BIGINT) AS overdue_principal_fen,
       CAST(s.overdue_interest AS BIGINT) AS overdue_interest_fen,
       CAST(s.overdue_fee AS BIGINT) AS overdue_fee_fen,
       CAST(s.overdue_penalty AS BIGINT) AS overdue_penalty_fen,
       CAST(s.penalty_due AS BIGINT) AS penalty_due_fen,
       CAST(s.outstanding_principal AS BIGINT) AS outstanding_principal_fen,
       CAST(s.total_outstanding AS BIGINT) AS total_outstanding_fen,
       g.bucket_no, g.tier_no, g.m_no, c.no AS class_no, s.in_observation, s.fully_paid,
       g.bucket_idx, c.idx AS class_idx, s.no_eff
FROM (
    SELECT {common}, {reason.replace(" OR (p.seq_state IS NULL AND NOT u.seq_ok)", "")} AS reason,
           0 AS dpd, 0 AS overdue_principal, 0 AS overdue_interest, 0 AS overdue_fee, 0 AS overdue_penalty,
           0 AS penalty_due, p.outstanding_principal + p.owed AS total_outstanding, p.all_settled AS fully_paid,
           FALSE AS in_observation, 0 AS floor_kind
    FROM eod_pre p WHERE NOT p.needs_detail
    UNION ALL
    SELECT {common}, {reason} AS reason,
           coalesce(dl.dpd, 0) AS dpd,
           coalesce(dl.overdue_principal, 0) AS overdue_principal,
           coalesce(dl.overdue_interest, 0) AS overdue_interest, coalesce(dl.overdue_fee, 0) AS overdue_fee,
           coalesce(po.pen_open, dl.pen_open, 0) AS overdue_penalty,
           coalesce(po.pen_due, dl.pen_due, 0) AS penalty_due,
           p.outstanding_principal + p.owed + coalesce(po.pen_open, dl.pen_open, 0) AS total_outstanding,
           p.all_settled AND coalesce(po.pen_open, dl.pen_open, 0) = 0 AS fully_paid,
           coalesce(r.obs_start IS NOT NULL AND {d} < r.obs_end, FALSE) AS in_observation,
           {floor_kind_sql(d, rules, 'coalesce(dl.dpd, 0)')} AS floor_kind
    FROM eod_pre p
    LEFT JOIN eod_dl dl ON dl.loan_id = p.loan_id
    LEFT JOIN eod_plo po ON po.loan_id = p.loan_id
    LEFT JOIN eod_dup u ON u.loan_id = p.loan_id
    LEFT JOIN eod_rs r ON r.loan_id = p.loan_id
    WHERE p.needs_detail
) s
LEFT JOIN eod_grades g ON g.prod_no = s.prod_no AND g.dpd_key = least(s.dpd, {top})
LEFT JOIN eod_levels c ON c.prod_no = s.prod_no AND c.scheme = 'class'
    AND c.idx = greatest(g.class_idx, CASE s.floor_kind WHEN 1 THEN g.floor_obs_idx
                                                        WHEN 2 THEN g.floor_miss_idx ELSE 0 END)"""


def cmp_sql() -> str:
    """Snapshot rows against the previous snapshot (an absent loan: dpd 0, first levels, not fully paid),
    only where something changed, with the levels' codes. A previous level the scheme does not know counts
    as its first level for the bucket's direction, and as a change of class."""
    return """
SELECT t.business_date, t.loan_id, t.dpd, t.p_dpd, t.bucket_idx, t.p_bucket_idx, nb.name AS bucket,
       coalesce(t.p_bucket, fb.code) AS p_bucket, nc.name AS classification, coalesce(t.p_class, fc.code) AS p_class,
       t.fully_paid, t.p_paid
FROM (
    SELECT s.business_date, s.loan_id, s.prod_no, s.dpd, s.bucket_no, s.bucket_idx, s.class_no, s.class_idx,
           s.fully_paid, coalesce(p.dpd, 0) AS p_dpd, p.bucket AS p_bucket, coalesce(lb.idx, 0) AS p_bucket_idx,
           p.classification AS p_class, CASE WHEN p.classification IS NULL THEN 0 ELSE lc.idx END AS p_class_idx,
           coalesce(p.fully_paid, FALSE) AS p_paid
    FROM eod_state s
    LEFT JOIN eod_previous p ON p.loan_id = s.loan_id
    LEFT JOIN eod_levels lb ON lb.prod_no = s.prod_no AND lb.scheme = 'bucket' AND lb.code = p.bucket
    LEFT JOIN eod_levels lc ON lc.prod_no = s.prod_no AND lc.scheme = 'class' AND lc.code = p.classification
    WHERE s.reason IS NULL
) t
JOIN eod_names nb ON nb.no = t.bucket_no
JOIN eod_names nc ON nc.no = t.class_no
JOIN eod_levels fb ON fb.prod_no = t.prod_no AND fb.scheme = 'bucket' AND fb.idx = 0
JOIN eod_levels fc ON fc.prod_no = t.prod_no AND fc.scheme = 'class' AND fc.idx = 0
WHERE (t.p_dpd = 0) <> (t.dpd = 0) OR t.p_bucket_idx <> t.bucket_idx OR t.p_class_idx IS DISTINCT FROM t.class_idx
   OR (NOT t.p_paid AND t.fully_paid)"""


# The product and level codes as their numbers in ``catalogue.names`` (``engine.decode_snapshot`` turns them into
# the codes): 1M strings cost more to turn into Arrow than 1M numbers and a lookup.
SNAPSHOT = """
SELECT business_date, loan_id, borrower_id, prod_no AS product_code, dpd, overdue_principal_fen, overdue_interest_fen,
       overdue_fee_fen, overdue_penalty_fen, penalty_due_fen, outstanding_principal_fen, total_outstanding_fen,
       bucket_no AS bucket, tier_no AS tier, m_no AS m_bucket, class_no AS classification, in_observation, fully_paid
FROM eod_state WHERE reason IS NULL ORDER BY loan_id"""
CODED = ("product_code", "bucket", "tier", "m_bucket", "classification")

# Only detail loans have penalty rows, and the only detail loans rejected are the few whose seqs the bitmask
# could not decide: leave out the (usually no) rejected loans rather than join the whole state.
PENALTIES = """
SELECT p.loan_id, CAST(p.seq AS INTEGER) AS seq, CAST(p.penalty_due AS BIGINT) AS penalty_due_fen
FROM eod_pen p
WHERE p.penalty_due > 0
  AND NOT EXISTS (SELECT 1 FROM eod_state s WHERE s.loan_id = p.loan_id AND s.reason IS NOT NULL)
ORDER BY p.loan_id, p.seq"""

# kind: (from_value, to_value, when) over eod_cmp.
_TRANSITION_ROWS = {
    "became_overdue": ("CAST(p_dpd AS VARCHAR)", "CAST(dpd AS VARCHAR)", "p_dpd = 0 AND dpd > 0"),
    "cured": ("CAST(p_dpd AS VARCHAR)", "CAST(dpd AS VARCHAR)", "p_dpd > 0 AND dpd = 0"),
    "bucket_up": ("p_bucket", "bucket", "bucket_idx > p_bucket_idx"),
    "bucket_down": ("p_bucket", "bucket", "bucket_idx < p_bucket_idx"),
    "class_changed": ("p_class", "classification", "p_class <> classification"),
    "fully_paid": ("'false'", "'true'", "NOT p_paid AND fully_paid"),
}
# Ordered by loan and kind: ``o`` is the kind's place in alphabetical order (an integer sorts faster than text).
TRANSITIONS = f"""
SELECT business_date, loan_id, kind, from_value, to_value
FROM ({" UNION ALL ".join(
    f"SELECT business_date, loan_id, {sorted(_TRANSITION_ROWS).index(kind)} AS o, '{kind}' AS kind, "
    f"{before} AS from_value, {after} AS to_value FROM eod_cmp WHERE {when}"
    for kind, (before, after, when) in _TRANSITION_ROWS.items())}) t
ORDER BY loan_id, o"""

REJECTED = """
SELECT loan_id, reason FROM eod_state WHERE reason IS NOT NULL ORDER BY loan_id"""

# Loans the run evaluates (not rejected before their penalties are known) with a due date ≤ D that
# due_dates does not cover: the caller's table is incomplete, the run is refused.
MISSING_DUE_DATES = f"""
SELECT loan_id FROM eod_state WHERE (reason IS NULL OR reason = '{REASON_OVER}') AND no_eff = 1
ORDER BY loan_id LIMIT 1"""
