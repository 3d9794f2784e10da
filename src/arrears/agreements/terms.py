"""The agreement's terms: the Plan as canonical JSON (sorted keys, no spaces, money as integer fen, rates and
dates as text) and back. Its SHA-256 is what the audit chain holds, so any altered term is detectable."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

from arrears.negotiation.plan import COMPONENTS, Amounts, Plan, PlanInstalment


def _amounts(a: Amounts) -> dict[str, int]:
    return {c: getattr(a, c) for c in COMPONENTS}


def plan_to_dict(plan: Plan) -> dict:
    return {"kind": plan.kind, "loan_id": plan.loan_id, "as_of": plan.as_of.isoformat(),
            "debt": _amounts(plan.debt), "waiver": _amounts(plan.waiver), "added": _amounts(plan.added),
            "annual_rate": str(plan.annual_rate), "waiver_conditional": plan.waiver_conditional,
            "params": json.loads(json.dumps(plan.params, default=str)),
            "schedule": [{"seq": i.seq, "due_on": i.due_on.isoformat(), "amounts": _amounts(i.amounts)}
                         for i in plan.schedule]}


def canonical(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(terms_json: str) -> str:
    return hashlib.sha256(terms_json.encode("utf-8")).hexdigest()


def plan_from_json(terms_json: str) -> Plan:
    d = json.loads(terms_json)
    return Plan(kind=d["kind"], loan_id=d["loan_id"], as_of=date.fromisoformat(d["as_of"]),
                debt=Amounts(**d["debt"]), waiver=Amounts(**d["waiver"]), added=Amounts(**d["added"]),
                annual_rate=Decimal(d["annual_rate"]), waiver_conditional=d["waiver_conditional"],
                params=d["params"],
                schedule=tuple(PlanInstalment(i["seq"], date.fromisoformat(i["due_on"]), Amounts(**i["amounts"]))
                               for i in d["schedule"])).check()
