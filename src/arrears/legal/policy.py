"""The legal recovery policy (``policy.yaml``): notice kinds, deadline periods with their sources, the judgment
cap rule, enforcement-action and cost kinds. Validated at load; errors name the file and field."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "policy.yaml"
Verified = Literal["primary", "secondary", "unverified"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Named(_Strict):
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)


class NoticeKind(Named):
    template: str
    answer_days: int = Field(ge=1, le=90)


class Deadline(Named):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    days: int | None = Field(default=None, ge=1)
    years: int | None = Field(default=None, ge=1)
    from_: Literal["served_on", "performance_due_on"] = Field(alias="from")
    remind_days_before: int = Field(ge=0)
    source: str = Field(min_length=3)
    verified: Verified

    @model_validator(mode="after")
    def _one_period(self) -> Deadline:
        if (self.days is None) == (self.years is None):
            raise ValueError("give exactly one of days or years")
        return self


class SourcedDays(_Strict):
    days: int = Field(ge=0)
    source: str = Field(min_length=3)
    verified: Verified


class JudgmentCaps(_Strict):
    day_count: Literal[360, 365]
    source: str = Field(min_length=3)
    verified: Verified


class LegalPolicy(_Strict):
    notices: dict[str, NoticeKind] = Field(min_length=1)
    deadlines: dict[Literal["appeal", "enforcement_application"], Deadline]
    performance_days_default: SourcedDays
    judgment_caps: JudgmentCaps
    enforcement_actions: dict[str, Named] = Field(min_length=1)
    cost_kinds: dict[str, Named] = Field(min_length=1)
    settlement_close_reason: str

    @model_validator(mode="after")
    def _both_deadlines(self) -> LegalPolicy:
        if set(self.deadlines) != {"appeal", "enforcement_application"}:
            raise ValueError("deadlines needs appeal and enforcement_application")
        return self


def load_policy(path: str | Path | None = None) -> LegalPolicy:
    from arrears.cases.model import lifecycle
    from arrears.contact.templates import catalog
    from arrears.products.catalog import PolicyError

    path = Path(path) if path else PACKAGED
    policy: LegalPolicy = validate_model(LegalPolicy, read_yaml(path), path)  # type: ignore[assignment]
    for kind, notice in policy.notices.items():
        if notice.template not in catalog().specs:
            raise PolicyError(f"{path}: notices.{kind}.template: no template {notice.template!r} in catalog.yaml")
        if str(catalog().specs[notice.template].purpose) != "legal_notice":
            raise PolicyError(f"{path}: notices.{kind}.template: {notice.template!r} must have purpose legal_notice")
    if policy.settlement_close_reason not in lifecycle().close_codes:
        raise PolicyError(f"{path}: settlement_close_reason: {policy.settlement_close_reason!r} is not a close "
                          "reason in cases/lifecycle.yaml")
    return policy


@lru_cache(maxsize=2)
def _cached(path: str | None) -> LegalPolicy:
    return load_policy(path)


def policy() -> LegalPolicy:
    """The policy in force: ARREARS_LEGAL_POLICY (a file) if set, else the packaged one (cached)."""
    return _cached(os.environ.get("ARREARS_LEGAL_POLICY"))
