"""The bad-debt exit policy (``policy.yaml``), validated at load."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arrears.products.catalog import read_yaml, validate_model

PACKAGED = Path(__file__).parent / "policy.yaml"
CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str = Field(min_length=5)
    verified: str = Field(pattern="^(primary|secondary|unverified)$")


class WriteOffRules(_Strict):
    min_dpd: int = Field(ge=1)
    classifications: tuple[str, ...] = Field(min_length=1)
    legal_outcomes: tuple[str, ...] = ()


class TransferRules(_Strict):
    min_dpd: int = Field(ge=1)
    classifications: tuple[str, ...] = Field(min_length=1)
    max_accounts: int = Field(ge=1)


class Valuation(_Strict):
    window_days: int = Field(ge=1, le=3650)


class ExitPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    write_off: WriteOffRules
    transfer: TransferRules
    valuation: Valuation


def load_policy(path: str | Path | None = None) -> ExitPolicy:
    path = Path(path or os.environ.get("ARREARS_EXIT_POLICY") or PACKAGED)
    return validate_model(ExitPolicy, read_yaml(path), path)  # type: ignore[return-value]


@lru_cache(maxsize=1)
def exit_policy() -> ExitPolicy:
    return load_policy()
