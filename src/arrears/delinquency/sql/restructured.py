"""Restructured loans (restructured_on ≤ D; always detail loans): the observation period and its floor.

- ``eod_rsd``: per instalment, the first value date after due_on at which principal + interest settled
  reaches the due principal + interest (settlements summed per date, then a running sum in date order);
- ``eod_rsi``: per instalment: *missed*, *paid on time*, and its rank ``k`` among the instalments due after
  the restructuring;
- ``eod_rso``: per loan: obs_start and obs_end;
- ``eod_rsl``: per loan: a miss during observation; the last miss in the window [obs_start, obs_end) by (E, seq);
- ``eod_rs``: per loan: the instalments paid on time after that miss.
The floor itself (which needs dpd) is taken in ``eod_state``.
"""

from __future__ import annotations

from arrears.delinquency.sql.main import settled_rows
from arrears.products.catalog import RestructuringRules


def rsd_sql(d: str) -> str:
    """Settled after due_on: the running sum starts from what was settled by due_on (the total less the
    settlements after due_on, all of which are seen one by one)."""
    return f"""
SELECT w.loan_id, w.seq, min(w.value_date) AS settled_on
FROM (
    SELECT v.loan_id, v.seq, v.value_date,
           sum(v.amt) OVER (PARTITION BY v.loan_id, v.seq ORDER BY v.value_date
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum
    FROM (
        SELECT s.loan_id, s.seq, s.value_date, sum(s.amount_fen) AS amt
        FROM {settled_rows(d)} s
        JOIN eod_rdi i ON i.loan_id = s.loan_id AND i.seq = s.seq
        WHERE s.code IN (1, 2) AND s.value_date > i.due_on
        GROUP BY s.loan_id, s.seq, s.value_date
    ) v
) w
JOIN eod_rdi i ON i.loan_id = w.loan_id AND i.seq = w.seq
WHERE (i.sp + i.si - i.pi_after_due) + w.cum >= i.pd + i.id_
GROUP BY w.loan_id, w.seq"""


def rsi_sql(d: str) -> str:
    """``son``: when principal + interest were settled (nothing owed counts as settled on E; settled by
    due_on counts as settled on min(due_on, D): every use compares it with E + g ≥ due_on and with D)."""
    late = "coalesce(date_diff('day', eff, son) > g, FALSE)"
    return f"""
SELECT loan_id, seq, e, due_on, restructured_on,
       CASE WHEN son IS NULL OR son > {d} THEN past_due ELSE {late} END AS missed,
       son IS NOT NULL AND son <= {d} AND NOT {late} AS on_time,
       CASE WHEN after_ THEN row_number() OVER (PARTITION BY loan_id, after_ ORDER BY seq) END AS k
FROM (
    SELECT i.loan_id, i.seq, i.e, i.eff, i.g, i.due_on, i.restructured_on, i.past_due,
           i.due_on > i.restructured_on AS after_,
           CASE WHEN i.pd + i.id_ <= 0 THEN i.e
                WHEN i.sp + i.si - i.pi_after_due >= i.pd + i.id_ THEN least(i.due_on, {d})
                ELSE r.settled_on END AS son
    FROM eod_rdi i
    LEFT JOIN eod_rsd r ON r.loan_id = i.loan_id AND r.seq = i.seq
) t"""


def rso_sql(rules: RestructuringRules) -> str:
    """obs_start = E of the first instalment after restructuring; obs_end = max(obs_start + min days, E of the
    min-periods-th one, or of the last one if there are fewer)."""
    return f"""
SELECT r.loan_id, o.obs_start,
       greatest(CAST(o.obs_start + {rules.observation_min_days} AS DATE),
                max(CASE WHEN r.k = least({rules.observation_min_periods}, o.n_after) THEN r.e END)) AS obs_end
FROM eod_rsi r
JOIN (SELECT loan_id, count(k) AS n_after, max(CASE WHEN k = 1 THEN e END) AS obs_start
      FROM eod_rsi GROUP BY loan_id) o ON o.loan_id = r.loan_id
GROUP BY r.loan_id, o.obs_start"""


def rsl_sql(d: str) -> str:
    window = "r.missed AND o.obs_start <= r.e AND r.e < o.obs_end"
    return f"""
SELECT t.loan_id, t.obs_start, t.obs_end, t.miss_during, t.last_e,
       max(CASE WHEN {window} AND r.e = t.last_e THEN r.seq END) AS last_seq
FROM (
    SELECT o.loan_id, o.obs_start, o.obs_end,
           max(CASE WHEN r.missed AND o.obs_start <= r.e AND r.e < {d} THEN 1 ELSE 0 END) AS miss_during,
           max(CASE WHEN {window} THEN r.e END) AS last_e
    FROM eod_rso o JOIN eod_rsi r ON r.loan_id = o.loan_id
    GROUP BY o.loan_id, o.obs_start, o.obs_end
) t
JOIN eod_rso o ON o.loan_id = t.loan_id
JOIN eod_rsi r ON r.loan_id = t.loan_id
GROUP BY t.loan_id, t.obs_start, t.obs_end, t.miss_during, t.last_e"""


def rs_sql() -> str:
    return """
SELECT l.loan_id, l.obs_start, l.obs_end, l.miss_during, l.last_e,
       sum(CASE WHEN r.seq > l.last_seq AND r.on_time THEN 1 ELSE 0 END) AS on_time_after
FROM eod_rsl l JOIN eod_rsi r ON r.loan_id = l.loan_id
GROUP BY l.loan_id, l.obs_start, l.obs_end, l.miss_during, l.last_e"""


def floor_kind_sql(d: str, rules: RestructuringRules, dpd: str) -> str:
    """0 no floor, 1 floor_in_observation, 2 floor_after_miss (``r`` is the loan's eod_rs row)."""
    return f"""CASE WHEN r.obs_start IS NULL THEN 0
     WHEN {d} < r.obs_end THEN (CASE WHEN r.miss_during = 1 THEN 2 ELSE 1 END)
     WHEN r.last_e IS NULL THEN 0
     WHEN {dpd} = 0 AND (r.on_time_after >= {rules.recovery_periods}
                         OR date_diff('day', r.last_e, {d}) >= {rules.recovery_days}) THEN 0
     ELSE 2 END"""
