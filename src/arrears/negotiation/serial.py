"""A Plan as JSON-ready data and back, exactly (fen as int, rates as text, dates ISO). Offers store it and
the agreement engine reads it back with ``plan_from_dict``; ``plan_digest`` is its SHA-256 over canonical JSON."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment


def _amounts(a: Amounts) -> dict[str, int]:
    return {c: getattr(a, c) for c in COMPONENTS}


def plan_to_dict(plan: Plan) -> dict:
    return {
        "kind": plan.kind, "loan_id": plan.loan_id, "as_of": plan.as_of.isoformat(),
        "debt": _amounts(plan.debt), "waiver": _amounts(plan.waiver), "added": _amounts(plan.added),
        "annual_rate": str(plan.annual_rate), "waiver_conditional": plan.waiver_conditional,
        "params": plan.params,
        "schedule": [{"seq": i.seq, "due_on": i.due_on.isoformat(), **_amounts(i.amounts)} for i in plan.schedule],
    }


def plan_from_dict(data: dict) -> Plan:
    """The Plan back, checked (``Plan.check``): a stored plan that no longer restates its debt is refused."""
    schedule = tuple(PlanInstalment(int(r["seq"]), date.fromisoformat(r["due_on"]),
                                    Amounts(**{c: int(r.get(c, 0)) for c in COMPONENTS}))
                     for r in data["schedule"])
    return Plan(kind=data["kind"], loan_id=int(data["loan_id"]), as_of=date.fromisoformat(data["as_of"]),
                debt=Amounts(**data["debt"]), schedule=schedule, waiver=Amounts(**data["waiver"]),
                added=Amounts(**data["added"]), annual_rate=Decimal(data["annual_rate"]),
                waiver_conditional=bool(data["waiver_conditional"]), params=dict(data.get("params") or {})).check()


def canonical(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def plan_digest(plan: Plan) -> str:
    return hashlib.sha256(canonical(plan_to_dict(plan)).encode("utf-8")).hexdigest()
