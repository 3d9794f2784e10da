"""Teams and collectors as data (``teams.yaml``): skills (language, product, stage), capacity and the team's
assignment mode. Validated at load; errors name the file and field."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arrears.cases.model import lifecycle
from arrears.products.catalog import PolicyError, catalog, read_yaml, validate_model

PACKAGED = Path(__file__).parent / "teams.yaml"
LANGUAGES = ("zh-CN", "en")


class Collector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    username: str = Field(min_length=1, max_length=60)
    languages: tuple[Literal["zh-CN", "en"], ...] = ()  # empty: any
    products: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    capacity: int = Field(ge=0, le=100_000)  # open tasks held at most


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name_zh: str
    name_en: str
    mode: Literal["least_loaded", "round_robin"]
    collectors: tuple[Collector, ...] = ()


class Teams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    teams: tuple[Team, ...] = Field(min_length=1)

    def team(self, code: str) -> Team:
        return next(t for t in self.teams if t.code == code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.teams)


def load_teams(path: str | Path | None = None) -> Teams:
    path = Path(path) if path else PACKAGED
    teams: Teams = validate_model(Teams, read_yaml(path), path)  # type: ignore[assignment]
    stages, products = set(lifecycle().stage_codes), set(catalog().products)
    seen: set[str] = set()
    for i, team in enumerate(teams.teams):
        if team.code in seen:
            raise PolicyError(f"{path}: teams[{i}].code: duplicate team {team.code!r}")
        seen.add(team.code)
        names: set[str] = set()
        for j, c in enumerate(team.collectors):
            where = f"{path}: teams[{i}].collectors[{j}]"
            if c.username in names:
                raise PolicyError(f"{where}.username: {c.username!r} listed twice in team {team.code!r}")
            names.add(c.username)
            for field, known, values in (("stages", stages, c.stages), ("products", products, c.products)):
                for value in values:
                    if value not in known:
                        raise PolicyError(f"{where}.{field}: unknown {field[:-1]} {value!r}")
    return teams


@lru_cache(maxsize=4)
def _cached(path: str | None) -> Teams:
    return load_teams(path)


def teams() -> Teams:
    """The teams in force: ARREARS_TEAMS_FILE if set, else the packaged file (cached)."""
    return _cached(os.environ.get("ARREARS_TEAMS_FILE"))
