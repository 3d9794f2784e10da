"""Loads and validates the product catalogue, schemes and legal limits from YAML.

The packaged files are the default; an institution points ``ARREARS_POLICY_DIR`` at its own copy
(same layout: legal.yaml, schemes.yaml, catalog/*.yaml). Any error names the file and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from arrears.products.model import LegalLimits, Product

PACKAGED = Path(__file__).parent


class PolicyError(ValueError):
    """A policy file that does not load or validate."""


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    name_zh: str
    name_en: str
    max_dpd: int | None = None


class Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    verified: str | None = None
    levels: tuple[Level, ...]

    def level_for(self, dpd: int) -> Level:
        for level in self.levels:
            if level.max_dpd is None or dpd <= level.max_dpd:
                return level
        raise PolicyError("scheme has no open-ended last level")


class RestructuringRules(BaseModel):
    """Observation period of restructured loans (classification floors), with its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    verified: str | None = None
    observation_min_periods: int
    observation_min_days: int
    floor_in_observation: str
    floor_after_miss: str
    recovery_periods: int
    recovery_days: int


@dataclass(frozen=True)
class Catalog:
    products: dict[str, Product]
    legal: LegalLimits
    buckets: dict[str, Scheme]
    classifications: dict[str, Scheme]
    restructuring: RestructuringRules

    def product(self, code: str) -> Product:
        try:
            return self.products[code]
        except KeyError:
            raise PolicyError(f"unknown product {code!r}; known: {', '.join(sorted(self.products))}") from None


def read_yaml(path: Path) -> dict:
    """A policy YAML file as a mapping; any problem is a PolicyError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    return data


def validate_model(model: type[BaseModel], data: dict, path: Path) -> BaseModel:
    """``data`` as ``model``; a validation error names the file and every field with its rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{path}: {where}") from None


def _validate_schemes(data: dict, path: Path) -> dict[str, Scheme]:
    schemes = {name: validate_model(Scheme, body, path) for name, body in data.items()}
    for name, scheme in schemes.items():
        bounds = [lv.max_dpd for lv in scheme.levels]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
            raise PolicyError(f"{path}: {name}: only the last level may (and must) be open-ended")
        if any(a >= b for a, b in zip(bounds[:-2], bounds[1:-1])):
            raise PolicyError(f"{path}: {name}: max_dpd must increase from level to level")
    return schemes  # type: ignore[return-value]


def load_catalog(directory: str | Path | None = None) -> Catalog:
    root = Path(directory) if directory else PACKAGED
    legal = validate_model(LegalLimits, read_yaml(root / "legal.yaml"), root / "legal.yaml")
    schemes = read_yaml(root / "schemes.yaml")
    buckets = _validate_schemes(schemes.get("buckets", {}), root / "schemes.yaml")
    classes = _validate_schemes(schemes.get("classifications", {}), root / "schemes.yaml")
    restructuring = validate_model(RestructuringRules, schemes.get("restructuring") or {}, root / "schemes.yaml")
    for name, scheme in classes.items():
        codes = {level.code for level in scheme.levels}
        for floor in (restructuring.floor_in_observation, restructuring.floor_after_miss):  # type: ignore[attr-defined]
            if floor not in codes:
                raise PolicyError(f"{root / 'schemes.yaml'}: restructuring floor {floor!r} is not a level of {name}")
    products: dict[str, Product] = {}
    for path in sorted((root / "catalog").glob("*.yaml")):
        product = validate_model(Product, read_yaml(path), path)
        try:
            product.check_legal(legal, set(buckets), set(classes))  # type: ignore[attr-defined]
        except ValueError as exc:
            raise PolicyError(f"{path}: {exc}") from None
        if product.code in products:  # type: ignore[attr-defined]
            raise PolicyError(f"{path}: duplicate product code {product.code!r}")  # type: ignore[attr-defined]
        products[product.code] = product  # type: ignore[attr-defined,index]
    if not products:
        raise PolicyError(f"{root / 'catalog'}: no product files")
    return Catalog(products=products, legal=legal, buckets=buckets, classifications=classes,  # type: ignore[arg-type]
                   restructuring=restructuring)  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _cached(directory: str | None) -> Catalog:
    return load_catalog(directory)


def catalog() -> Catalog:
    """The catalogue in force: ARREARS_POLICY_DIR if set, else the packaged one (cached)."""
    return _cached(os.environ.get("ARREARS_POLICY_DIR"))
