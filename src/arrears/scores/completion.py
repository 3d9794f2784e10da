"""The trained plan-completion model behind negotiation's interface ``probability(features) -> Decimal``.

``features`` is a mapping or any object with the attributes ``payment_relief``, ``plan_term``, ``waiver_share``,
``burden``, ``dpd_at_restructuring`` and ``product_code`` (``plan_features`` makes them from a ``Plan``). A
missing or malformed value is scored as the model's missing bin, never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from arrears.negotiation.plan import Plan
from arrears.scores import registry
from arrears.scores.catalog import feature_catalog
from arrears.scores.model import ScoreModel

SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class CompletionFeatures:
    payment_relief: Decimal  # 1 − new payment ÷ old payment
    plan_term: int  # instalments in the plan
    waiver_share: Decimal  # waived ÷ debt
    burden: Decimal  # highest plan payment ÷ old payment
    dpd_at_restructuring: int
    product_code: str


def plan_features(plan: Plan, old_payment_fen: int, dpd: int, product_code: str) -> CompletionFeatures:
    """A plan's terms as completion features; every ratio is computed from int fen with Decimal."""
    if old_payment_fen <= 0:
        raise ValueError("old_payment_fen must be positive")
    old = Decimal(old_payment_fen)
    debt = Decimal(plan.debt.total) or Decimal(1)
    return CompletionFeatures(
        payment_relief=(1 - Decimal(plan.first_payment) / old).quantize(SIX_PLACES),
        plan_term=len(plan.schedule), waiver_share=(Decimal(plan.waived) / debt).quantize(SIX_PLACES),
        burden=(Decimal(plan.max_payment) / old).quantize(SIX_PLACES), dpd_at_restructuring=dpd,
        product_code=product_code)


class TrainedCompletionModel:
    def __init__(self, model: ScoreModel, version: str) -> None:
        if model.kind != "completion":
            raise ValueError(f"not a completion model: {model.kind}")
        self.model, self.version = model, version
        self._names = [f["name"] for f in feature_catalog().schema("completion")]

    @classmethod
    def load(cls, models_root: Path, version: str | None = None) -> TrainedCompletionModel:
        """The active (or the given) version; refused if it does not match the current feature schema."""
        model, manifest = registry.load(models_root, "completion", version)
        return cls(model, manifest["version"])

    def _row(self, features: object) -> pa.Table:
        get = features.get if isinstance(features, Mapping) else (lambda k: getattr(features, k, None))
        columns = {}
        for name in self._names:
            value = get(name)
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                columns[name] = pa.array([Decimal(value)], pa.decimal128(38, 10))
            else:  # text (a product code, or a malformed number: the missing bin takes it)
                columns[name] = pa.array([None if value is None else str(value)], pa.string())
        return pa.table(columns)

    def probability(self, features: object) -> Decimal:
        return Decimal(str(self.model.predict(self._row(features))[0])).quantize(SIX_PLACES)

    def reasons(self, features: object) -> tuple[str, ...]:
        """Feature codes counting most against completion, costliest first."""
        _, reasons = self.model.score(self._row(features))
        return tuple(r for r in (reasons[0].as_py() or "").split(",") if r)
