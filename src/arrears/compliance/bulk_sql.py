"""The SQL of the bulk guard (DuckDB). Tables it reads: ``req`` (one row per request, ``rid``, ``at_us``,
``mentions_debt``), ``hist``, ``flags``, ``tzt`` (zone offsets), ``hits`` (content rules matched) and the
profile tables below. Every rule mirrors its function in ``guard.py``; times are integer microseconds.
"""

from __future__ import annotations

import pyarrow as pa

from arrears.compliance.content import NUMBER, WAN, WAN_FACTOR
from arrears.compliance.localtime import DAY_US
from arrears.compliance.model import Decision
from arrears.compliance.policy import Profile
from arrears.money import FEN_PER_YUAN

_S, _I, _B = pa.string(), pa.int64(), pa.bool_()
COLUMNS = {
    "rules": ("profile", "rule", "ord", "reason_zh", "reason_en", "tb"),
    "freeze_ok": ("profile", "rule", "purpose"),
    "quiet_m": ("profile", "method"),
    "quiet_w": ("profile", "idx", "s", "e"),
    "caps": ("profile", "rule", "per_method", "debt_scope", "per_agency", "lim", "days"),
    "cap_m": ("profile", "rule", "method"), "cap_p": ("profile", "rule", "party"),
    "cap_o": ("profile", "rule", "outcome"),
    "tp": ("profile", "allowed", "after_failed", "max_pp"),
    "tp_purpose": ("profile", "purpose"), "tp_fm": ("profile", "method"), "tp_fo": ("profile", "outcome"),
}
_TYPES = {"ord": _I, "tb": _B, "idx": _I, "s": _I, "e": _I, "per_method": _B, "debt_scope": _B, "per_agency": _B,
          "lim": _I, "days": _I, "allowed": _B, "after_failed": _I, "max_pp": _I}
SCHEMAS = {name: pa.schema([(c, _TYPES.get(c, _S)) for c in cols]) for name, cols in COLUMNS.items()}


def _floor_day(x: str) -> str:
    return f"(({x}) - ((({x}) % {DAY_US}) + {DAY_US}) % {DAY_US}) // {DAY_US}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _false_amounts(profiles: dict[str, Profile]) -> str:
    """One SELECT per distinct money pattern: rows whose text states an amount other than the one owed."""
    by_pattern: dict[str, list[str]] = {}
    for code, profile in profiles.items():
        by_pattern.setdefault(profile.amounts, []).append(code)
    parts = []
    for pattern, codes in by_pattern.items():
        amount = (f"CAST(replace(regexp_extract(m, {_literal(NUMBER)}), ',', '') AS DECIMAL(38,8)) * "
                  f"CASE WHEN contains(m, {_literal(WAN)}) THEN {FEN_PER_YUAN * WAN_FACTOR} ELSE {FEN_PER_YUAN} END")
        parts.append(f"""
        SELECT rid, 'content.false_amount' AS rule, NULL::BIGINT AS reset, NULL::BIGINT AS q_idx,
               NULL::BIGINT AS q_end_day
        FROM (SELECT rid, amount_owed_fen AS owed,
                     list_transform(regexp_extract_all(template_text, {_literal(pattern)}), lambda m: {amount}) AS amts
              FROM rl WHERE template_text IS NOT NULL AND profile IN ({', '.join(map(_literal, codes))}))
        WHERE len(amts) > 0 AND (owed IS NULL OR len(list_filter(amts, lambda a: a <> owed)) > 0)""")
    return " UNION ALL ".join(parts)


def decisions_sql(profiles: dict[str, Profile]) -> str:
    return f"""
CREATE TEMP TABLE rl AS
SELECT r.*, {_floor_day('r.at_us + z.off_us')} AS day,
       (((r.at_us + z.off_us) % {DAY_US}) + {DAY_US}) % {DAY_US} AS tod
FROM req r ASOF JOIN tzt z ON r.borrower_tz = z.tz AND r.at_us >= z.from_us;

-- each request with the earlier attempts of its borrower, dated in the request's zone
CREATE TEMP TABLE pairs AS
WITH j AS (
  SELECT q.rid, q.profile, q.borrower_tz, q.day, q.method AS r_method, q.party AS r_party, q.loan_id AS r_loan,
         q.agency_id AS r_agency, q.third_party_id AS r_tp,
         h.loan_id, h.method, h.party, h.outcome, h.at_us, h.agency_id, h.third_party_id
  FROM rl q JOIN hist h ON h.borrower_id = q.borrower_id AND h.at_us < q.at_us)
SELECT j.*, {_floor_day('j.at_us + z.off_us')} AS hd
FROM j ASOF JOIN tzt z ON j.borrower_tz = z.tz AND j.at_us >= z.from_us;

CREATE TEMP TABLE broken AS
WITH f AS (
  SELECT borrower_id, bool_or(do_not_contact) AS do_not_contact, bool_or(open_complaint) AS open_complaint,
         bool_or(signed_agreement_with_collection_stop) AS collection_stopped
  FROM flags GROUP BY borrower_id),
tries AS (  -- the debtor contacts that decide whether the debtor is unreachable
  SELECT p.rid, p.at_us, fo.outcome IS NOT NULL AS failed
  FROM pairs p JOIN tp_fm m ON m.profile = p.profile AND m.method = p.method
  LEFT JOIN tp_fo fo ON fo.profile = p.profile AND fo.outcome = p.outcome
  WHERE p.party = 'debtor' AND p.r_party = 'third_party'),
since AS (SELECT rid, max(at_us) FILTER (WHERE NOT failed) AS since FROM tries GROUP BY rid),
failures AS (
  SELECT t.rid, count(*) AS n FROM tries t JOIN since s ON s.rid = t.rid
  WHERE t.failed AND (s.since IS NULL OR t.at_us > s.since) GROUP BY t.rid),
same_person AS (
  SELECT rid, count(*) AS n FROM pairs
  WHERE r_party = 'third_party' AND party = 'third_party' AND third_party_id = r_tp GROUP BY rid),
third AS (SELECT q.*, tp.allowed, tp.after_failed, tp.max_pp FROM rl q JOIN tp ON tp.profile = q.profile
          WHERE q.party = 'third_party')
SELECT q.rid, fz.rule, NULL::BIGINT AS reset, NULL::BIGINT AS q_idx, NULL::BIGINT AS q_end_day
FROM rl q JOIN f ON f.borrower_id = q.borrower_id
CROSS JOIN (VALUES ('do_not_contact'), ('open_complaint'), ('collection_stopped')) fz(rule)
WHERE CASE fz.rule WHEN 'do_not_contact' THEN f.do_not_contact WHEN 'open_complaint' THEN f.open_complaint
                   ELSE f.collection_stopped END
  AND NOT EXISTS (SELECT 1 FROM freeze_ok o WHERE o.profile = q.profile AND o.rule = fz.rule AND o.purpose = q.purpose)
UNION ALL
SELECT rid, 'third_party.forbidden', NULL, NULL, NULL FROM third WHERE NOT allowed
UNION ALL
SELECT rid, 'third_party.disclosure', NULL, NULL, NULL FROM third WHERE discloses_debt OR mentions_debt
UNION ALL
SELECT t.rid, 'third_party.purpose', NULL, NULL, NULL FROM third t
WHERE t.allowed AND NOT EXISTS (SELECT 1 FROM tp_purpose u WHERE u.profile = t.profile AND u.purpose = t.purpose)
UNION ALL
SELECT t.rid, 'third_party.debtor_reachable', NULL, NULL, NULL FROM third t LEFT JOIN failures n ON n.rid = t.rid
WHERE t.allowed AND t.after_failed IS NOT NULL AND coalesce(n.n, 0) < t.after_failed
UNION ALL
SELECT t.rid, 'third_party.repeat', NULL, NULL, NULL FROM third t LEFT JOIN same_person n ON n.rid = t.rid
WHERE t.allowed AND t.max_pp IS NOT NULL AND coalesce(n.n, 0) >= t.max_pp
UNION ALL
SELECT rid, rule, NULL, NULL, NULL FROM hits
UNION ALL {_false_amounts(profiles)}
UNION ALL
SELECT q.rid, 'quiet_hours', NULL, w.idx, CASE WHEN w.s > w.e AND q.tod >= w.s THEN q.day + 1 ELSE q.day END
FROM rl q JOIN quiet_m m ON m.profile = q.profile AND m.method = q.method
JOIN quiet_w w ON w.profile = q.profile
WHERE (w.s < w.e AND q.tod >= w.s AND q.tod < w.e) OR (w.s > w.e AND (q.tod >= w.s OR q.tod < w.e))
UNION ALL
-- caps: attempts counted in the window, blocked from the limit on, reset when enough old ones leave it
SELECT p.rid, c.rule, list_sort(list(p.hd))[count(*) - any_value(c.lim) + 1] + any_value(c.days), NULL, NULL
FROM pairs p
JOIN caps c ON c.profile = p.profile
JOIN cap_m rm ON rm.profile = c.profile AND rm.rule = c.rule AND rm.method = p.r_method
JOIN cap_p rp ON rp.profile = c.profile AND rp.rule = c.rule AND rp.party = p.r_party
JOIN cap_m hm ON hm.profile = c.profile AND hm.rule = c.rule AND hm.method = p.method
JOIN cap_p hp ON hp.profile = c.profile AND hp.rule = c.rule AND hp.party = p.party
JOIN cap_o ho ON ho.profile = c.profile AND ho.rule = c.rule AND ho.outcome = p.outcome
WHERE (NOT c.per_method OR p.method = p.r_method)
  AND (NOT c.debt_scope OR p.loan_id = p.r_loan)
  AND (NOT c.per_agency OR p.agency_id IS NOT DISTINCT FROM p.r_agency)
  AND p.hd > p.day - c.days AND p.hd <= p.day
GROUP BY p.rid, c.rule
HAVING count(*) >= any_value(c.lim);

CREATE TEMP TABLE dec AS
SELECT q.rid, q.profile, q.borrower_tz AS tz, q.method, q.party,
       list(b.rule ORDER BY ru.ord) FILTER (WHERE b.rule IS NOT NULL) AS broken,
       arg_min(b.rule, ru.ord) AS rule, bool_and(ru.tb) AS all_tb, max(b.reset) AS max_reset,
       max(b.q_idx) AS q_idx, max(b.q_end_day) AS q_end_day
FROM rl q LEFT JOIN broken b ON b.rid = q.rid LEFT JOIN rules ru ON ru.profile = q.profile AND ru.rule = b.rule
GROUP BY q.rid, q.profile, q.borrower_tz, q.method, q.party;
"""


_ALLOW = Decision.allow()
FINAL = f"""
SELECT d.rule IS NULL AS allowed, d.rule, coalesce(d.broken, []::VARCHAR[]) AS broken,
       coalesce(ru.reason_zh, {_literal(_ALLOW.reason_zh)}) AS reason_zh,
       coalesce(ru.reason_en, {_literal(_ALLOW.reason_en)}) AS reason_en,
       CASE WHEN d.rule IS NULL OR NOT d.all_tb THEN NULL
            WHEN d.max_reset IS NOT NULL THEN o.at_us ELSE qe.at_us END AS next_allowed_at,
       d.profile, d.method, d.party
FROM dec d
LEFT JOIN rules ru ON ru.profile = d.profile AND ru.rule = d.rule
LEFT JOIN open_at o ON o.profile = d.profile AND o.tz = d.tz AND o.method = d.method AND o.day = d.max_reset
LEFT JOIN quiet_end qe ON qe.profile = d.profile AND qe.tz = d.tz AND qe.day = d.q_end_day AND qe.idx = d.q_idx
ORDER BY d.rid
"""
