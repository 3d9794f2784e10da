"""Saved models: one directory per version (``<models>/<kind>/<version>/`` with model.json, manifest.json and the
model card), the active version per score chosen by configuration (``<models>/active.yaml``), and refusal to
load a model whose feature schema is not the current one."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import yaml

from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.scores.catalog import KINDS, feature_catalog
from arrears.scores.model import ScoreModel

ACTIVE = "active.yaml"


def models_dir(data_dir: Path) -> Path:
    """ARREARS_MODELS_DIR, else ``<data dir>/models``."""
    return Path(os.environ.get("ARREARS_MODELS_DIR") or Path(data_dir) / "models")


def save(root: Path, model: ScoreModel, manifest: dict, card: str, *, activate: bool = True) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    version, n = stamp, 1
    while (root / model.kind / version).exists():
        n += 1
        version = f"{stamp}-{n}"
    folder = root / model.kind / version
    folder.mkdir(parents=True)
    manifest = {**manifest, "kind": model.kind, "version": version, "schema_hash": model.schema_hash,
                "features": feature_catalog().schema(model.kind), "created_at": datetime.now(timezone.utc).isoformat()}
    (folder / "model.json").write_text(json.dumps(model.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "card.md").write_text(card, encoding="utf-8")
    if activate:
        set_active(root, model.kind, version)
    return version


def versions(root: Path, kind: str) -> list[str]:
    folder = root / kind
    return sorted(p.name for p in folder.iterdir() if (p / "manifest.json").exists()) if folder.exists() else []


def active_versions(root: Path) -> dict[str, str]:
    path = root / ACTIVE
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or any(k not in KINDS or not isinstance(v, str) for k, v in data.items()):
        raise InvalidInput(f"{path}: expected a mapping of score kind ({', '.join(KINDS)}) to a version",
                           field="active", rule="active_config")
    return data


def set_active(root: Path, kind: str, version: str) -> None:
    if version not in versions(root, kind):
        raise NotFound(f"no saved {kind} model version {version!r}", field="version")
    data = {**active_versions(root), kind: version}
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{ACTIVE}.tmp"
    tmp.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, root / ACTIVE)


def load(root: Path, kind: str, version: str | None = None) -> tuple[ScoreModel, dict]:
    """The model and its manifest: the given version, else the active one. Refused (Conflict) when its feature
    schema is not the current allow-list's for that score."""
    known = (*KINDS, *feature_catalog().datasets)
    if kind not in known:
        raise InvalidInput(f"unknown score {kind!r}; known: {', '.join(known)}", field="kind", rule="score_kind")
    version = version or active_versions(root).get(kind)
    if not version:
        raise NotFound(f"no active {kind} model: run `arrears model train --score {kind}`", field="kind")
    folder = root / kind / version
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        data = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"no saved {kind} model version {version!r}", field="version") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{folder}: unreadable model files: {exc}", field="version", rule="model_file") from None
    expected = feature_catalog().schema_hash(kind)
    found = {manifest.get("schema_hash"), data.get("schema_hash")}
    if found != {expected}:
        raise Conflict(f"{kind} model {version} was trained on feature schema {sorted(map(str, found))}, the current "
                       f"schema is {expected}: retrain it", field="schema_hash", rule="feature_schema")
    try:
        model = ScoreModel.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise InvalidInput(f"{folder}/model.json: not a score model: {exc}", field="version",
                           rule="model_file") from None
    if model.feature_names != [f["name"] for f in feature_catalog().schema(kind)]:
        raise Conflict(f"{kind} model {version}: its features differ from the allow-list: retrain it",
                       field="schema_hash", rule="feature_schema")
    return model, manifest
