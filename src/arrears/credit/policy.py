"""The credit-reporting policy (``policy.yaml``) validated at load; errors name the file and field."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from arrears.products.catalog import PolicyError, read_yaml, validate_model

PACKAGED = Path(__file__).parent / "policy.yaml"
SPECIAL_KINDS = ("extension", "third_party_repayment", "settled_with_assets", "partial_prepayment",
                 "early_settlement", "legal_recovery", "debt_reduction", "transfer", "personalised_instalment",
                 "write_off", "deferral")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Strict):
    source: str = Field(min_length=5)
    verified: str = Field(pattern="^(primary|secondary|unverified)$")


class StatusCodes(Sourced):
    normal: str = Field(min_length=1, max_length=1)
    nothing_due: str = Field(min_length=1, max_length=1)
    settled: str = Field(min_length=1, max_length=1)
    ended_other: str = Field(min_length=1, max_length=1)
    unknown: str = Field(min_length=1, max_length=1)
    not_open: str = Field(min_length=1, max_length=1)
    overdue_step_days: int = Field(ge=1)
    overdue_max_digit: int = Field(ge=1, le=9)

    @property
    def letters(self) -> tuple[str, ...]:
        return (self.normal, self.nothing_due, self.settled, self.ended_other, self.unknown, self.not_open)

    @property
    def alphabet(self) -> str:
        """Every character a status string may hold."""
        return "".join(self.letters) + "".join(str(d) for d in range(1, self.overdue_max_digit + 1))


class NegativeCodes(Sourced):
    codes: tuple[str, ...] = Field(min_length=1)


class SpecialTransactions(Sourced):
    codes: dict[str, str]
    restructured_default: str


class Days(Sourced):
    wait_days: int = Field(ge=0, le=90)


class Objection(Sourced):
    answer_days: int = Field(ge=1, le=60)


class Retention(Sourced):
    years: int = Field(ge=1)


class CreditPolicy(_Strict):
    institution_code: str = Field(pattern=r"^[A-Za-z0-9]{1,20}$")
    status_codes: StatusCodes
    negative_codes: NegativeCodes
    special_transactions: SpecialTransactions
    negative_notice: Days
    objection: Objection
    retention_years: Retention

    def special_code(self, kind: str) -> str:
        return self.special_transactions.codes[kind]


def load_policy(path: str | Path | None = None) -> CreditPolicy:
    path = Path(path or os.environ.get("ARREARS_CREDIT_POLICY") or PACKAGED)
    policy: CreditPolicy = validate_model(CreditPolicy, read_yaml(path), path)  # type: ignore[assignment]
    letters = policy.status_codes.letters
    if len(set(letters)) != len(letters) or any(c.isdigit() for c in letters):
        raise PolicyError(f"{path}: status_codes: letters must be distinct and not digits")
    unknown = set(policy.special_transactions.codes) - set(SPECIAL_KINDS)
    if unknown or set(SPECIAL_KINDS) - set(policy.special_transactions.codes):
        raise PolicyError(f"{path}: special_transactions.codes: must name exactly {', '.join(SPECIAL_KINDS)}")
    if policy.special_transactions.restructured_default not in SPECIAL_KINDS:
        raise PolicyError(f"{path}: special_transactions.restructured_default: unknown kind")
    return policy


@lru_cache(maxsize=1)
def credit_policy() -> CreditPolicy:
    return load_policy()
