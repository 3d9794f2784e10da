"""Rules compiled to SQL (DuckDB): one predicate per rule over the case facts, one CASE expression choosing
each case's first matching rule of its arm's strategy, and the arm assignment by hash.

Values in the SQL come only from validated configuration (codes matched by patterns, integers), and every
string is quoted; a NULL fact never satisfies a condition (each predicate is wrapped in COALESCE(…, FALSE)).
"""

from __future__ import annotations

from arrears.strategy.config import EVENTS, PreDueWhen, Range, Rule, StrategyFile, When

BP = 10_000  # arm shares are basis points of this


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(quote(v) for v in values)})"


def _range(column: str, r: Range) -> str:
    parts = [f"{column} IS NOT NULL"]
    if r.min is not None:
        parts.append(f"{column} >= {int(r.min)}")
    if r.max is not None:
        parts.append(f"{column} <= {int(r.max)}")
    return " AND ".join(parts)


def predicate(when: When) -> str:
    """The rule's conditions as one SQL boolean (TRUE when the rule has none)."""
    parts: list[str] = []
    for column, values in (("product_code", when.products), ("stage", when.stages), ("bucket", when.buckets),
                           ("tier", when.tiers), ("m_bucket", when.m_buckets)):
        if values:
            parts.append(_in(column, values))
    for column, r in (("dpd", when.dpd), ("days_open", when.days_open),
                      ("total_outstanding_fen", when.total_outstanding_fen), ("risk_score", when.risk_score)):
        if r is not None:
            parts.append(_range(column, r))
    for flag, value in sorted(when.flags.items()):
        parts.append(f"{flag} = {'TRUE' if value else 'FALSE'}")
    if when.events:
        parts.append("(" + " OR ".join(f"ev_{e}" for e in when.events) + ")")
    return "COALESCE(" + " AND ".join(f"({p})" for p in parts) + ", FALSE)" if parts else "TRUE"


def rule_case(config: StrategyFile) -> str:
    """``CASE … END``: the global number of the first rule of the case's strategy that matches, else NULL."""
    whens = [f"WHEN strategy = {quote(s.name)} AND {predicate(r.when)} THEN {n}" for n, s, r in config.rules()]
    return "CASE " + " ".join(whens) + " END"


def pre_due_predicate(when: PreDueWhen) -> str:
    """A pre-delinquency rule's conditions over the loan facts (``strategy.predue``) as one SQL boolean."""
    parts: list[str] = [_in("product_code", when.products)] if when.products else []
    for column, r in (("early_warning", when.early_warning), ("days_to_due", when.days_to_due),
                      ("amount_due_fen", when.amount_due_fen)):
        if r is not None:
            parts.append(_range(column, r))
    for flag, value in sorted(when.flags.items()):
        parts.append(f"{flag} = {'TRUE' if value else 'FALSE'}")
    return "COALESCE(" + " AND ".join(f"({p})" for p in parts) + ", FALSE)" if parts else "TRUE"


def pre_due_rule_case(config: StrategyFile) -> str:
    """``CASE … END``: the number of the first pre-due rule of the loan's strategy that matches, else NULL."""
    whens = [f"WHEN strategy = {quote(s.name)} AND {pre_due_predicate(r.when)} THEN {n}"
             for n, s, r in config.pre_due_rules()]
    return "CASE " + " ".join(whens) + " END" if whens else "CAST(NULL AS BIGINT)"


def arm_case(config: StrategyFile) -> str:
    """``CASE … END``: the strategy of a case from its hash bucket (0 … 9999): challengers take consecutive
    ranges in file order, the champion the rest. The bucket depends only on the experiment and the case id,
    so a case keeps its arm every day while the experiment (salt) stays the same."""
    whens, low = [], 0
    for s in config.challengers:
        if s.share_bp:
            whens.append(f"WHEN arm_bp < {low + s.share_bp} THEN {quote(s.name)}")
            low += s.share_bp
    return "CASE " + " ".join(whens) + f" ELSE {quote(config.champion.name)} END" if whens \
        else quote(config.champion.name)


def arm_bp_sql(experiment: str, column: str = "case_id") -> str:
    """The hash bucket: the first 32 bits of md5('<experiment>:<case id>') modulo 10000 (``arm_bp`` in Python).
    Loans before delinquency are hashed by ``loan_id`` with the salt '<experiment>:loan'."""
    return f"(('0x' || substr(md5({quote(experiment)} || ':' || CAST({column} AS VARCHAR)), 1, 8))::BIGINT % {BP})"


def arm_bp(experiment: str, case_id: int) -> int:
    """The same bucket in Python (reports, tests)."""
    import hashlib

    return int(hashlib.md5(f"{experiment}:{case_id}".encode()).hexdigest()[:8], 16) % BP


def events_pivot(table: str) -> str:
    """One row per case with a boolean column per event kind (``ev_<kind>``) from ``table(case_id, kind)``."""
    cols = ", ".join(f"bool_or(kind = {quote(e)}) AS ev_{e}" for e in EVENTS)
    return f"SELECT case_id, {cols} FROM {table} GROUP BY case_id"


__all__ = ["predicate", "rule_case", "pre_due_predicate", "pre_due_rule_case", "arm_case", "arm_bp_sql", "arm_bp", "events_pivot", "Rule", "quote"]
