"""Shared by the compliance tests: short constructors, and ``both`` which runs one request through the
single guard and the bulk guard and insists they agree."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from arrears.compliance.bulk import check_many, flags_table, history_table, requests_table
from arrears.compliance.guard import check
from arrears.compliance.model import BorrowerFlags, ContactAttempt, ContactRequest, Decision
from arrears.compliance.policy import load_profiles

PROFILES = load_profiles()
SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
TZ_NAME = {SH: "Asia/Shanghai", NY: "America/New_York"}


def at(tz: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def req(when: datetime, **kw) -> ContactRequest:
    fields = {"case_id": 1, "loan_id": 1, "borrower_id": 1, "borrower_tz": TZ_NAME.get(when.tzinfo, "Asia/Shanghai"),
              "method": "call", "party": "debtor", "purpose": "collect", "at": when}
    if kw.get("party") == "third_party":
        fields.update(purpose="locate", third_party_id="mother")
    fields.update(kw)
    return ContactRequest(**fields)


def att(when: datetime, outcome: str = "no_answer", **kw) -> ContactAttempt:
    fields = {"borrower_id": 1, "loan_id": 1, "method": "call", "party": "debtor", "outcome": outcome, "at": when}
    fields.update(kw)
    return ContactAttempt(**fields)


def flags(**kw) -> BorrowerFlags:
    return BorrowerFlags(borrower_id=1, **kw)


def as_tuple(d: Decision) -> tuple:
    return d.allowed, d.rule, tuple(d.broken), d.reason_zh, d.reason_en, d.next_allowed_at


def both(request: ContactRequest, history=(), flag: BorrowerFlags | None = None, profile: str = "cn-bank") -> Decision:
    single = check(request, tuple(history), flag, PROFILES[profile])
    table = check_many(requests_table([request], [profile]), history_table(history),
                       flags_table([flag] if flag else []), PROFILES)
    row = table.to_pylist()[0]
    bulk = (row["allowed"], row["rule"], tuple(row["broken"]), row["reason_zh"], row["reason_en"],
            row["next_allowed_at"])
    assert bulk == as_tuple(single), f"bulk {bulk} != single {as_tuple(single)}"
    return single
