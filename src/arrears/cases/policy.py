"""Case working policy from ``policy.yaml``: promise horizon and grace, visit collectors per compliance profile,
evidence file types, complaint categories and their SLA days, the letters a collector sends by hand per stage. Validated at load; errors name file and field."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arrears.cases.model import lifecycle
from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "policy.yaml"


class _Sourced(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str = Field(min_length=3)
    verified: Literal["primary", "secondary", "unverified"]


class Promises(_Sourced):
    max_horizon_days: int = Field(ge=1, le=366)
    grace_days: int = Field(ge=0, le=60)


class Visits(_Sourced):
    min_collectors: dict[str, int]
    address_types: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_or_two(self) -> Visits:
        if any(n not in (1, 2) for n in self.min_collectors.values()):
            raise ValueError("min_collectors: 1 or 2 collectors per profile")
        return self

    def collectors_for(self, profile: str) -> int:
        return self.min_collectors.get(profile, 1)


class Evidence(_Sourced):
    types: tuple[str, ...] = Field(min_length=1)
    max_bytes: int = Field(ge=1)


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z_]+$")
    name_zh: str
    name_en: str
    sla_days: int = Field(ge=1, le=90)


class Complaints(_Sourced):
    channels: tuple[str, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Complaints:
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError(f"categories: codes must be unique, got {codes}")
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)


class Letters(_Sourced):
    """The templates (contact/templates/catalog.yaml) a collector may send by hand from a case, per stage."""
    by_stage: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _known_stages(self) -> Letters:
        unknown = sorted(set(self.by_stage) - {s.code for s in lifecycle().stages})
        if unknown:
            raise ValueError(f"by_stage: unknown stage(s) {unknown}")
        return self


class CasePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    promises: Promises
    visits: Visits
    evidence: Evidence
    complaints: Complaints
    letters: Letters


def load_policy(path: str | Path | None = None) -> CasePolicy:
    path = Path(path) if path else PACKAGED
    return validate_model(CasePolicy, read_yaml(path), path)  # type: ignore[return-value]


@lru_cache(maxsize=1)
def policy() -> CasePolicy:
    return load_policy()
