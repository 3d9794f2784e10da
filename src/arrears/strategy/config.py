"""Strategy rules as data (``rules/default.yaml``), validated at load: pydantic for shapes (errors name the
file and field), then cross-checks naming the strategy and rule: templates and channels against the contact
catalogue, stages and moves against lifecycle.yaml, products and bucket codes against the product catalogue,
teams against queues/teams.yaml, template variables against the case facts the strategy can supply."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arrears.cases.model import lifecycle
from arrears.contact.tables import CHANNELS
from arrears.contact.templates import TemplateCatalog, catalog as template_catalog
from arrears.delinquency.model import TRANSITION_KINDS
from arrears.products.catalog import PolicyError, catalog, read_yaml, validate_model
from arrears.queues.config import Teams, teams as packaged_teams

PACKAGED = Path(__file__).parent / "rules" / "default.yaml"
EVENTS = (*TRANSITION_KINDS, "promise_broken", "promise_kept")
FLAGS = ("open_complaint", "promise_open")  # borrower/case flags a rule may test (docs/strategy.md)
# What the strategy can put into a template (docs/strategy.md); amounts are integer fen from loan_delinquency.
FACTS = {"borrower_name": "text", "loan_no": "text", "due_on": "date", "days_overdue": "int",
         "amount_owed_fen": "fen", "total_outstanding_fen": "fen", "penalty_fen": "fen"}
TASK_KINDS = {"call": "call", "visit": "visit", "lawyer_letter": "letter"}
# What a pre-delinquency reminder can put into its template (docs/strategy.md): the instalment coming due.
PRE_DUE_FACTS = {"borrower_name": "text", "loan_no": "text", "instalment_no": "int", "amount_due_fen": "fen",
                 "due_on": "date"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """Inclusive bounds; either may be left out."""
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class When(_Strict):
    """All given conditions must hold (AND); a list matches any of its values (OR)."""
    products: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    m_buckets: tuple[str, ...] = ()
    dpd: Range | None = None
    days_open: Range | None = None  # days since the case opened (business date − opened_on)
    total_outstanding_fen: Range | None = None
    risk_score: Range | None = None  # never matches a case without a score (NULL)
    flags: dict[Literal["open_complaint", "promise_open"], bool] = {}
    events: tuple[Literal[EVENTS], ...] = ()  # type: ignore[valid-type]


class Action(_Strict):
    do: Literal["send", "call", "visit", "lawyer_letter", "escalate"]
    template: str | None = None
    channel: str | None = None
    team: str | None = None
    to: str | None = None  # escalate: the stage to move to
    variables: dict[str, str] = {}  # template variable -> case fact (default: the fact of the same name)


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    when: When = When()
    actions: tuple[Action, ...]  # empty: hold (the case matches and nothing is done; later rules are skipped)


class PreDueWhen(_Strict):
    """Conditions on a current loan with an instalment coming due (all must hold)."""
    products: tuple[str, ...] = ()
    early_warning: Range | None = None  # latest early-warning probability in per mille; never matches unscored
    days_to_due: Range | None = None  # within pre_delinquency.window_days
    amount_due_fen: Range | None = None  # what is left to pay of the instalment
    flags: dict[Literal["open_complaint"], bool] = {}


class PreDueAction(_Strict):
    do: Literal["send"]
    template: str
    channel: str
    variables: dict[str, str] = {}  # template variable -> pre-due fact (default: the fact of the same name)


class PreDueRule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    when: PreDueWhen = PreDueWhen()
    actions: tuple[PreDueAction, ...]  # empty: hold (nothing is sent; later rules are skipped)


class PreDelinquency(_Strict):
    """Reminders before the due date for current loans at risk (strategy/predue.py)."""
    source: str = Field(min_length=3)  # why these numbers
    window_days: int = Field(ge=2, le=31)  # an instalment due in 2 … window_days days after the business date
    score_max_age_days: int = Field(ge=0, le=366)  # an older early-warning score is not used


class Strategy(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")
    role: Literal["champion", "challenger"]
    share_bp: int = Field(default=0, ge=0, le=10_000)  # challengers: basis points of cases (2000 = 20 %)
    rules: tuple[Rule, ...] = Field(min_length=1)
    pre_due: tuple[PreDueRule, ...] = ()  # current loans (pre_delinquency); the same arms, by loan


class StrategyFile(_Strict):
    source: str = Field(min_length=3)
    experiment: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,40}$")  # the salt of the arm assignment
    send_at_local: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # messages: next day, borrower time
    strategies: tuple[Strategy, ...] = Field(min_length=1)
    pre_delinquency: PreDelinquency | None = None  # required when a strategy has pre_due rules

    @property
    def champion(self) -> Strategy:
        return next(s for s in self.strategies if s.role == "champion")

    @property
    def challengers(self) -> tuple[Strategy, ...]:
        return tuple(s for s in self.strategies if s.role == "challenger")

    def rules(self) -> list[tuple[int, Strategy, Rule]]:
        """Every rule with a global number (its position across strategies, from 1)."""
        out, n = [], 0
        for s in self.strategies:
            for r in s.rules:
                n += 1
                out.append((n, s, r))
        return out

    def pre_due_rules(self) -> list[tuple[int, Strategy, PreDueRule]]:
        """Every pre-delinquency rule with a global number (its position across strategies, from 1)."""
        out, n = [], 0
        for s in self.strategies:
            for r in s.pre_due:
                n += 1
                out.append((n, s, r))
        return out


def _check(f: StrategyFile, path: Path, templates: TemplateCatalog, teams: Teams) -> None:
    def fail(where: str, message: str) -> None:
        raise PolicyError(f"{path}: {where}: {message}")

    champions = [s.name for s in f.strategies if s.role == "champion"]
    if len(champions) != 1:
        fail("strategies", f"exactly one champion is needed, found {champions or 'none'}")
    names = [s.name for s in f.strategies]
    for i, name in enumerate(names):
        if name in names[:i]:
            fail(f"strategies[{i}].name", f"duplicate strategy {name!r}")
    if sum(s.share_bp for s in f.challengers) > 10_000:
        fail("strategies", "challenger shares add up to more than 10000 basis points")
    if f.champion.share_bp:
        fail("strategies", "the champion takes what the challengers leave: give it no share_bp")
    lc, cat = lifecycle(), catalog()
    codes = {lv.code for scheme in cat.buckets.values() for lv in scheme.levels}
    for i, s in enumerate(f.strategies):
        seen: set[str] = set()
        for j, r in enumerate(s.rules):
            where = f"strategies[{i}] ({s.name}) rules[{j}] ({r.name})"
            if r.name in seen:
                fail(where, "duplicate rule name in this strategy")
            seen.add(r.name)
            w = r.when
            for field, known, values in (("products", set(cat.products), w.products),
                                         ("stages", set(lc.stage_codes), w.stages), ("buckets", codes, w.buckets),
                                         ("tiers", codes, w.tiers), ("m_buckets", codes, w.m_buckets)):
                for v in values:
                    if v not in known:
                        fail(f"{where}.when.{field}", f"unknown {field[:-1]} {v!r}; known: {sorted(known)}")
            kinds = [a.do for a in r.actions]
            if sum(k in TASK_KINDS for k in kinds) > 1 or kinds.count("escalate") > 1:
                fail(f"{where}.actions", "at most one task (call, visit, lawyer_letter) and one escalate per rule")
            for k, a in enumerate(r.actions):
                _check_action(a, w, f"{where}.actions[{k}] ({a.do})", fail, templates, teams, lc)
        _check_pre_due(f, i, s, fail, templates, set(cat.products))


def _check_pre_due(f: StrategyFile, i: int, s: Strategy, fail, templates: TemplateCatalog,  # noqa: ANN001
                   products: set[str]) -> None:
    if s.pre_due and f.pre_delinquency is None:
        fail(f"strategies[{i}] ({s.name}).pre_due", "pre_due rules need the pre_delinquency section (window_days, "
                                                    "score_max_age_days, source)")
    seen: set[str] = set()
    for j, r in enumerate(s.pre_due):
        where = f"strategies[{i}] ({s.name}) pre_due[{j}] ({r.name})"
        if r.name in seen:
            fail(where, "duplicate rule name in this strategy's pre_due rules")
        seen.add(r.name)
        for p in r.when.products:
            if p not in products:
                fail(f"{where}.when.products", f"unknown product {p!r}; known: {sorted(products)}")
        for k, a in enumerate(r.actions):
            at = f"{where}.actions[{k}]"
            if a.template not in templates.specs:
                fail(f"{at}.template", f"unknown template {a.template!r}; catalog.yaml has {sorted(templates.specs)}")
            spec = templates.specs[a.template]
            if str(spec.purpose) != "remind":
                fail(f"{at}.template", f"a reminder before the due date sends only templates whose purpose is remind "
                                       f"({a.template!r} is {spec.purpose})")
            if a.channel not in spec.channels:
                fail(f"{at}.channel", f"template {a.template!r} is not sent by {a.channel} (only {list(spec.channels)})")
            for var in a.variables:
                if var not in spec.variables:
                    fail(f"{at}.variables.{var}", f"unknown variable of template {a.template!r}")
            for var, kind in spec.variables.items():
                fact = a.variables.get(var, var)
                if PRE_DUE_FACTS.get(fact) != kind:
                    fail(f"{at}.variables.{var}", f"template {a.template!r} needs {var!r} ({kind}) and no pre-due "
                                                  f"fact of that name and type exists; facts: {PRE_DUE_FACTS}")


def _check_action(a: Action, w: When, where: str, fail, templates: TemplateCatalog, teams: Teams, lc) -> None:  # noqa: ANN001
    needs = {"send": {"template", "channel"}, "call": {"team"}, "visit": {"team"},
             "lawyer_letter": {"template", "team"}, "escalate": {"to"}}[a.do]
    given = {k for k in ("template", "channel", "team", "to") if getattr(a, k) is not None}
    if a.do == "lawyer_letter" and a.channel not in (None, "letter"):
        fail(where, "a lawyer letter goes by channel letter")
    for missing in sorted(needs - given):
        fail(f"{where}.{missing}", "required for this action")
    for extra in sorted(given - needs - ({"channel"} if a.do == "lawyer_letter" else set())):
        fail(f"{where}.{extra}", f"not used by {a.do}")
    if a.team is not None and a.team not in teams.codes:
        fail(f"{where}.team", f"unknown team {a.team!r}; teams.yaml has {list(teams.codes)}")
    if a.do == "escalate":
        if a.to not in lc.stage_codes:
            fail(f"{where}.to", f"unknown stage {a.to!r}; stages: {list(lc.stage_codes)}")
        if not w.stages:
            fail(f"{where}.to", "an escalating rule must name the stages it applies to (when.stages)")
        for stage in w.stages:
            if a.to not in lc.targets(stage):
                fail(f"{where}.to", f"lifecycle.yaml does not allow {stage} → {a.to}")
    channel = "letter" if a.do == "lawyer_letter" else a.channel
    if a.template is not None:
        if a.template not in templates.specs:
            fail(f"{where}.template", f"unknown template {a.template!r}; catalog.yaml has {sorted(templates.specs)}")
        spec = templates.specs[a.template]
        if channel not in CHANNELS:
            fail(f"{where}.channel", f"unknown channel {channel!r}; channels: {list(CHANNELS)}")
        if channel not in spec.channels:
            fail(f"{where}.channel", f"template {a.template!r} is not sent by {channel} (only {list(spec.channels)})")
        for var in a.variables:
            if var not in spec.variables:
                fail(f"{where}.variables.{var}", f"unknown variable of template {a.template!r} "
                                                 f"(it takes {sorted(spec.variables)})")
        for var, kind in spec.variables.items():
            fact = a.variables.get(var, var)
            if fact not in FACTS:
                fail(f"{where}.variables.{var}", f"template {a.template!r} needs {var!r} and the strategy has no "
                                                 f"fact {fact!r}; facts: {sorted(FACTS)}")
            if FACTS[fact] != kind:
                fail(f"{where}.variables.{var}", f"fact {fact!r} is {FACTS[fact]}, the template wants {kind}")
    elif a.variables:
        fail(f"{where}.variables", "only actions with a template take variables")


def load_strategy(path: str | Path | None = None, *, templates: TemplateCatalog | None = None,
                  teams: Teams | None = None) -> StrategyFile:
    path = Path(path) if path else PACKAGED
    f: StrategyFile = validate_model(StrategyFile, read_yaml(path), path)  # type: ignore[assignment]
    _check(f, path, templates or template_catalog(), teams or packaged_teams())
    return f


@lru_cache(maxsize=4)
def _cached(path: str | None) -> StrategyFile:
    return load_strategy(path)


def strategy() -> StrategyFile:
    """The rules in force: ARREARS_STRATEGY_FILE if set, else the packaged default (cached)."""
    return _cached(os.environ.get("ARREARS_STRATEGY_FILE"))
