"""Agreement policy as data (``policy.yaml``, validated at load; ``ARREARS_AGREEMENTS_POLICY`` overrides the file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "policy.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Signing(_Strict):
    code_digits: int = Field(ge=4, le=10)
    code_valid_minutes: int = Field(ge=1, le=60)
    code_max_attempts: int = Field(ge=1, le=20)
    code_channel: str = Field(pattern=r"^(sms|email)$")
    source: str = Field(min_length=3)


class DefaultClause(_Strict):
    grace_days: int = Field(ge=0, le=90)
    missed_instalments: int = Field(ge=1, le=12)
    days_late: int = Field(ge=1, le=365)
    source: str = Field(min_length=3)


class Renegotiation(_Strict):
    max_agreements_per_loan: int = Field(ge=1, le=10)
    escalate_to_stage: str = Field(pattern=r"^[a-z_]+$")
    source: str = Field(min_length=3)


class ProductRule(_Strict):
    oral_allowed: bool
    stops_collection: bool
    source: str = Field(min_length=3)


class Dispute(_Strict):
    zh: str = Field(min_length=3)
    en: str = Field(min_length=3)
    source: str = Field(min_length=3)


class AgreementPolicy(_Strict):
    signing: Signing
    default_clause: DefaultClause
    renegotiation: Renegotiation
    products: dict[str, ProductRule]
    dispute: Dispute

    def product(self, code: str) -> ProductRule:
        return self.products.get(code) or self.products["default"]


def load_policy(path: Path) -> AgreementPolicy:
    policy = validate_model(AgreementPolicy, read_yaml(path), path)
    if "default" not in policy.products:
        from arrears.products.catalog import PolicyError
        raise PolicyError(f"{path}: products: a 'default' entry is required")
    return policy


@lru_cache(maxsize=4)
def _cached(path: str) -> AgreementPolicy:
    return load_policy(Path(path))


def policy() -> AgreementPolicy:
    return _cached(os.environ.get("ARREARS_AGREEMENTS_POLICY") or str(PACKAGED))
