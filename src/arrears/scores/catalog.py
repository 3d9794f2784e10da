"""The feature allow-list and the scores as data (``features.yaml``), validated at load. The schema hash of a
score (its features, their types, in order) is what a saved model must match to be loaded."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from arrears.products.catalog import PolicyError, read_yaml, validate_model

PACKAGED = Path(__file__).parent / "features.yaml"
KINDS = ("early_warning", "propensity", "completion")
PORTFOLIO_KINDS = ("early_warning", "propensity")  # scored per loan; completion scores plans


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["numeric", "categorical"]
    zh: str
    en: str
    reason_zh: str
    reason_en: str


class ScoreSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str
    en: str
    adverse: Literal["high", "low"]
    features: tuple[str, ...]


class DatasetSpec(BaseModel):
    """A public data set's own features (docs/models.md): same rules, its own schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str
    en: str
    adverse: Literal["high", "low"]
    features: dict[str, Feature]


class FeatureCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    forbidden: tuple[str, ...]
    features: dict[str, Feature]
    scores: dict[str, ScoreSpec]
    datasets: dict[str, DatasetSpec] = {}

    @model_validator(mode="after")
    def _consistent(self) -> FeatureCatalog:
        if set(self.scores) != set(KINDS):
            raise ValueError(f"scores must be exactly {KINDS}")
        for kind, spec in self.scores.items():
            unknown = [f for f in spec.features if f not in self.features]
            if unknown:
                raise ValueError(f"{kind}: features not in the allow-list: {unknown}")
            if len(set(spec.features)) != len(spec.features):
                raise ValueError(f"{kind}: a feature is listed twice")
        return self

    def spec(self, kind: str) -> ScoreSpec:
        if kind not in self.scores:
            raise PolicyError(f"unknown score {kind!r}; known: {', '.join(KINDS)}")
        return self.scores[kind]

    def describe(self, kind: str) -> dict[str, Feature]:
        """The features of a score (or of a public data set), in order, with their descriptions."""
        if kind in self.datasets:
            return dict(self.datasets[kind].features)
        return {f: self.features[f] for f in self.spec(kind).features}

    def adverse(self, kind: str) -> str:
        return self.datasets[kind].adverse if kind in self.datasets else self.spec(kind).adverse

    def schema(self, kind: str) -> list[dict]:
        """The feature schema a model of ``kind`` is trained on: names and types, in order."""
        return [{"name": name, "type": f.type} for name, f in self.describe(kind).items()]

    def schema_hash(self, kind: str) -> str:
        text = json.dumps({"kind": kind, "features": self.schema(kind)}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_feature_catalog(path: str | Path | None = None) -> FeatureCatalog:
    path = Path(path) if path else PACKAGED
    return validate_model(FeatureCatalog, read_yaml(path), path)  # type: ignore[return-value]


@lru_cache(maxsize=1)
def feature_catalog() -> FeatureCatalog:
    return load_feature_catalog()
