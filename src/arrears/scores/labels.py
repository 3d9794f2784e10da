"""Training rows from the institution's own history: assessment dates every 30 days back from the end of the
data, features as of each date (``features.py``), and what happened next (the label), set-based in DuckDB.

- early warning: loans current (0 dpd) and not finished on the date; label 1 if an instalment falling due in the
  next 60 days is still not fully paid 30 days after its due date (30+ dpd within 3 months).
- propensity: loans overdue on the date; label 1 if everything overdue on the date is settled within 30 days,
  or an open promise's amount is paid within 30 days, and the loan was not restructured in those 30 days.
  ``treated``: a contact reached the borrower in the first 7 days (for the two-model uplift estimate).
Only dates whose whole outcome window lies inside the data are used.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from arrears.scores.features import POINTS, build_features, connect

HORIZON = {"early_warning": 90, "propensity": 30}
STEP_DAYS = 30


def assessment_points(sources: dict[str, pa.Table], data_end: date, kind: str, dates: int = 12) -> pa.Table:
    """Every loan disbursed by each assessment date, for ``dates`` dates 30 days apart."""
    last = data_end - timedelta(days=HORIZON[kind])
    as_of = [last - timedelta(days=STEP_DAYS * k) for k in range(dates)]
    con = connect(sources)
    con.register("dates", pa.table({"as_of": pa.array(as_of, pa.date32())}))
    return con.sql("SELECT l.loan_id, d.as_of FROM loans l JOIN dates d ON l.disbursed_on < d.as_of "
                   "ORDER BY d.as_of, l.loan_id").to_arrow_table().cast(POINTS)


EARLY_WARNING = """
SELECT f.*, coalesce(bad.y, 0) AS label
FROM features f
LEFT JOIN (
    SELECT i.loan_id, i.as_of, max(CASE WHEN coalesce(s.paid, 0) < i.due_fen THEN 1 ELSE 0 END) AS y
    FROM (SELECT f.loan_id, f.as_of, n.seq, n.due_on, n.due_fen FROM features f JOIN instalments n
          ON n.loan_id = f.loan_id AND n.due_on > f.as_of AND n.due_on <= f.as_of + INTERVAL 60 DAY) i
    LEFT JOIN LATERAL (
        SELECT sum(amount_fen) AS paid FROM settlements s
        WHERE s.loan_id = i.loan_id AND s.seq = i.seq AND s.component <> 'penalty'
          AND s.value_date <= i.due_on + INTERVAL 30 DAY) s ON true
    GROUP BY i.loan_id, i.as_of) bad ON bad.loan_id = f.loan_id AND bad.as_of = f.as_of
WHERE f.dpd = 0 AND f.active
ORDER BY f.as_of, f.loan_id
"""

PROPENSITY = """
WITH due AS (  -- per point and instalment due by the date: what was unpaid then, and 30 days later
    SELECT f.loan_id, f.as_of, n.seq, n.due_fen,
           coalesce(sum(s.amount_fen) FILTER (WHERE s.value_date <= f.as_of), 0) AS paid_then,
           coalesce(sum(s.amount_fen) FILTER (WHERE s.value_date <= f.as_of + INTERVAL 30 DAY), 0) AS paid_later
    FROM features f JOIN instalments n ON n.loan_id = f.loan_id AND n.due_on <= f.as_of
    LEFT JOIN settlements s ON s.loan_id = n.loan_id AND s.seq = n.seq AND s.component <> 'penalty'
    WHERE f.dpd > 0
    GROUP BY f.loan_id, f.as_of, n.seq, n.due_fen),
cure AS (SELECT loan_id, as_of, bool_and(paid_later >= due_fen) AS cured FROM due GROUP BY loan_id, as_of),
window_paid AS (
    SELECT f.loan_id, f.as_of, sum(s.amount_fen) AS paid
    FROM features f JOIN settlements s ON s.loan_id = f.loan_id AND s.value_date > f.as_of
                                      AND s.value_date <= f.as_of + INTERVAL 30 DAY
    WHERE f.dpd > 0 GROUP BY f.loan_id, f.as_of),
promised AS (
    SELECT f.loan_id, f.as_of, sum(r.amount_fen) AS amount
    FROM features f JOIN promises r ON r.loan_id = f.loan_id AND r.promised_on <= f.as_of
                                   AND (r.resolved_on IS NULL OR r.resolved_on > f.as_of) AND r.status <> 'cancelled'
    WHERE f.dpd > 0 GROUP BY f.loan_id, f.as_of),
treated AS (
    SELECT DISTINCT f.loan_id, f.as_of FROM features f JOIN contacts c ON c.loan_id = f.loan_id AND c.reached
        AND c.on_date > f.as_of AND c.on_date <= f.as_of + INTERVAL 7 DAY WHERE f.dpd > 0)
SELECT f.*,
       CASE WHEN l.restructured_on > f.as_of AND l.restructured_on <= f.as_of + INTERVAL 30 DAY THEN 0
            WHEN coalesce(c.cured, false) THEN 1
            WHEN p.amount IS NOT NULL AND coalesce(w.paid, 0) >= p.amount THEN 1 ELSE 0 END AS label,
       t.loan_id IS NOT NULL AS treated
FROM features f JOIN loans l ON l.loan_id = f.loan_id
LEFT JOIN cure c ON c.loan_id = f.loan_id AND c.as_of = f.as_of
LEFT JOIN window_paid w ON w.loan_id = f.loan_id AND w.as_of = f.as_of
LEFT JOIN promised p ON p.loan_id = f.loan_id AND p.as_of = f.as_of
LEFT JOIN treated t ON t.loan_id = f.loan_id AND t.as_of = f.as_of
WHERE f.dpd > 0
ORDER BY f.as_of, f.loan_id
"""


def training_rows(sources: dict[str, pa.Table], data_end: date, kind: str, dates: int = 12) -> pa.Table:
    """Features and ``label`` (and ``treated`` for propensity) for every eligible point; ``as_of`` is kept for
    the time split."""
    if kind not in HORIZON:
        raise ValueError(f"{kind}: the database holds no restructured plans with outcomes yet; "
                         "train it with --source synthetic")
    points = assessment_points(sources, data_end, kind, dates)
    con = connect(sources, points)
    con.register("features", build_features(sources, points))
    return con.sql(EARLY_WARNING if kind == "early_warning" else PROPENSITY).to_arrow_table()
