"""Compliance report over a decisions table (``check_many``'s output, or decisions stored from ``check``):
how many contacts were blocked, by the rule that refused them, and by profile and method."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from arrears.errors import InvalidInput


@dataclass(frozen=True)
class ComplianceReport:
    requests: int
    blocked: int
    by_rule: pa.Table  # rule, blocked: refusals named by the rule (the first one broken)
    by_rule_any: pa.Table  # rule, blocked: refusals in which the rule was broken at all
    by_profile_method: pa.Table  # profile, method, rule, blocked


def _count(table: pa.Table, keys: list[str]) -> pa.Table:
    if table.num_rows == 0:
        return pa.table({**{k: pa.array([], pa.string()) for k in keys}, "blocked": pa.array([], pa.int64())})
    counted = table.group_by(keys).aggregate([(keys[-1], "count")]).rename_columns([*keys, "blocked"])
    counted = counted.select([*keys, "blocked"])
    return counted.sort_by([("blocked", "descending"), *((k, "ascending") for k in keys)])


def compliance_report(decisions: pa.Table) -> ComplianceReport:
    missing = {"allowed", "rule", "broken", "profile", "method"} - set(decisions.column_names)
    if missing:
        raise InvalidInput(f"decisions: missing column(s) {sorted(missing)}", field=min(missing))
    refused = decisions.filter(pc.invert(decisions.column("allowed")))
    return ComplianceReport(
        requests=decisions.num_rows, blocked=refused.num_rows,
        by_rule=_count(refused.select(["rule"]), ["rule"]),
        by_rule_any=_count(pa.table({"rule": pc.list_flatten(refused.column("broken"))}), ["rule"]),
        by_profile_method=_count(refused.select(["profile", "method", "rule"]), ["profile", "method", "rule"]))
