"""Negotiation policy (``policy.yaml``) and expense norms (``norms.yaml``), validated at load.

``ARREARS_POLICY_DIR/negotiation/`` overrides the packaged files (same names). Errors name the file and field.
"""

from __future__ import annotations

import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arrears.products.catalog import PolicyError, read_yaml, validate_model

PACKAGED = Path(__file__).parent
EXPENSE_CATEGORIES = ("housing", "food", "utilities", "transport", "education", "medical", "other_debts")
NORMED = ("housing", "utilities", "food", "transport", "education", "medical")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Affordability(_Strict):
    sustainable_share: Decimal = Field(gt=0, le=1)
    source: str
    flag_above: Decimal = Field(gt=1)
    flag_below: Decimal = Field(ge=0, lt=1)
    max_monthly_fen: int = Field(gt=0)
    liquid_asset_kinds: tuple[str, ...]


class Completion(_Strict):
    model: Literal["transparent", "trained"] = "transparent"  # trained: the active trained model, if any
    intercept: Decimal
    coefficients: dict[str, Decimal]
    caps: dict[str, Decimal]
    source: str
    verified: str = "secondary"

    @model_validator(mode="after")
    def _known_features(self) -> Completion:
        from arrears.negotiation.completion import FEATURES
        unknown = set(self.coefficients) - set(FEATURES)
        missing = set(FEATURES) - set(self.coefficients)
        if unknown or missing:
            raise ValueError(f"coefficients must name exactly {list(FEATURES)}; unknown {sorted(unknown)}, "
                             f"missing {sorted(missing)}")
        return self


class Valuation(_Strict):
    discount_rate: Decimal = Field(ge=0, lt=1)
    failure_paid_share: Decimal = Field(ge=0, le=1)
    residual_recovery_share: Decimal = Field(ge=0, le=1)
    residual_recovery_months: int = Field(ge=0, le=120)
    source: str


class Options(_Strict):
    periods: tuple[int, ...] = Field(min_length=1)
    extension_months: tuple[int, ...]
    rate_factors: tuple[Decimal, ...]
    holiday_months: tuple[int, ...]
    max_holiday_months: int = Field(ge=0, le=24)
    step_up_share: Decimal = Field(gt=0, lt=1)
    settlement_discounts: tuple[Decimal, ...]
    settlement_days: int = Field(ge=1, le=365)
    partial_waiver_share: Decimal = Field(gt=0, lt=1)
    max_candidates: int = Field(ge=1, le=500)


class RoleLimits(_Strict):
    max_waiver_fen: int = Field(ge=0)
    max_waiver_share: Decimal = Field(ge=0, le=1)
    max_periods: int = Field(ge=1, le=360)
    max_principal_reduction_fen: int = Field(ge=0)
    max_principal_reduction_share: Decimal = Field(ge=0, le=1)


class Approval(_Strict):
    order: tuple[str, ...] = Field(min_length=1)
    also: dict[str, str] = {}
    limits: dict[str, RoleLimits]
    source: str

    @model_validator(mode="after")
    def _limits_for_each_role(self) -> Approval:
        missing = [r for r in self.order if r not in self.limits]
        if missing:
            raise ValueError(f"approval.limits missing for {missing}")
        bad = [k for k, v in self.also.items() if v not in self.order]
        if bad:
            raise ValueError(f"approval.also maps {bad} to roles not in order")
        return self

    def authority_of(self, role: str) -> str | None:
        """The approval role whose limits ``role`` carries (None: no authority)."""
        return role if role in self.order else self.also.get(role)


class Offers(_Strict):
    default_expiry_hours: int = Field(ge=1)
    max_expiry_hours: int = Field(ge=1)


class Evidence(_Strict):
    max_bytes: int = Field(gt=0)
    max_files: int = Field(gt=0)
    types: tuple[str, ...] = Field(min_length=1)


class Policy(_Strict):
    affordability: Affordability
    completion: Completion
    valuation: Valuation
    options: Options
    approval: Approval
    offers: Offers
    evidence: Evidence


class Equivalence(_Strict):
    source: str
    first: Decimal = Field(gt=0)
    each_further: Decimal = Field(ge=0)


class Region(_Strict):
    factor: Decimal = Field(gt=0)
    prefixes: tuple[str, ...]


class Norms(_Strict):
    source: str
    verified: str = "secondary"
    equivalence: Equivalence
    per_person_fen: dict[str, int]
    regions: dict[str, Region]

    @model_validator(mode="after")
    def _every_category(self) -> Norms:
        missing = [c for c in NORMED if c not in self.per_person_fen]
        if missing or "national" not in self.regions:
            raise ValueError(f"norms need per_person_fen for {list(NORMED)} (missing {missing}) and a national region")
        return self

    def region_for(self, region_code: str) -> str:
        for name, region in self.regions.items():
            if any(region_code.startswith(p) for p in region.prefixes):
                return name
        return "national"


def _root() -> Path:
    override = os.environ.get("ARREARS_POLICY_DIR")
    if override and (Path(override) / "negotiation").is_dir():
        return Path(override) / "negotiation"
    return PACKAGED


@lru_cache(maxsize=4)
def _load(root: str) -> tuple[Policy, Norms]:
    base = Path(root)
    policy = validate_model(Policy, read_yaml(base / "policy.yaml"), base / "policy.yaml")
    norms = validate_model(Norms, read_yaml(base / "norms.yaml"), base / "norms.yaml")
    return policy, norms  # type: ignore[return-value]


def policy() -> Policy:
    return _load(str(_root()))[0]


def norms() -> Norms:
    return _load(str(_root()))[1]


__all__ = ["Policy", "Norms", "PolicyError", "policy", "norms", "EXPENSE_CATEGORIES", "NORMED"]
