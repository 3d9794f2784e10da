"""Compliance profiles: the collection-conduct rules of cn-bank, cn-internet and us-regf as YAML
(``profiles/*.yaml``) plus the list forbidden in every profile (``forbidden.yaml``), validated at load.

Every number carries its source and how it was verified, as in ``products/legal.yaml``. Any error
names the file and the field. ``RULE_ORDER`` below is the order in which a refusal names its rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from arrears.compliance.model import Method, Outcome, Party, Purpose
from arrears.products.catalog import PolicyError, read_yaml, validate_model

PACKAGED = Path(__file__).parent
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Python's \d \w \s \b are Unicode-wide, RE2's (the bulk engine) ASCII-only: spell classes out.
_SHORTHAND = re.compile(r"(?<!\\)(?:\\\\)*\\[dDwWsSbB]")
MINUTE_US = 60_000_000

# The order a refusal names its rule in (the first broken one) and lists them all in:
#  1. freezes on the borrower (nothing but their allowed purposes may go out),
#  2. third-party rules, 3. message content (fix the template), 4. quiet hours, 5. frequency caps
#     in the profile's order. Only 4 and 5 are lifted by time alone, so next_allowed_at is given
#     only when nothing before them is broken.
RULE_ORDER_DOC = ("do_not_contact", "open_complaint", "collection_stopped", "third_party.forbidden",
                  "third_party.disclosure", "third_party.purpose", "third_party.debtor_reachable",
                  "third_party.repeat", "content.<category> (forbidden.yaml order)", "content.false_amount",
                  "quiet_hours", "<cap kind>.<cap name> (profile order)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(_Strict):
    source: str = Field(min_length=3)
    verified: Literal["primary", "secondary", "unverified"]


class Window(_Strict):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (00:00-23:59)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("start and end are equal: a window must cover some time")
        return self

    def minutes(self) -> list[tuple[int, int]]:
        """As half-open minute ranges within one day; a window over midnight is two of them."""
        s, e = (int(v[:2]) * 60 + int(v[3:]) for v in (self.start, self.end))
        return [(s, e)] if s < e else [(s, 1440), (0, e)]

    def us(self) -> tuple[int, int]:
        s, e = (int(v[:2]) * 60 + int(v[3:]) for v in (self.start, self.end))
        return s * MINUTE_US, e * MINUTE_US


class QuietHours(Sourced):
    windows: tuple[Window, ...] = Field(min_length=1)  # no contact inside them, borrower's local time
    methods: tuple[Method, ...] = Field(min_length=1)  # the methods they apply to (not letters)

    @model_validator(mode="after")
    def _no_overlap(self) -> QuietHours:
        ranges = [(i, r) for i, w in enumerate(self.windows) for r in w.minutes()]
        for a, (i, (s1, e1)) in enumerate(ranges):
            for j, (s2, e2) in ranges[a + 1:]:
                if i != j and s1 < e2 and s2 < e1:
                    raise ValueError(f"windows {i} and {j} overlap")
        return self


class Cap(Sourced):
    """At most ``limit`` counted attempts in ``days`` local days (today and the days before)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    kind: Literal["daily_cap", "rolling_cap", "cooldown"]
    label_zh: str
    label_en: str
    methods: tuple[Method, ...] = Field(min_length=1)  # requests it applies to, and attempts it counts
    per_method: bool = False  # count only attempts by the request's own method
    parties: tuple[Party, ...] = (Party.debtor,)
    outcomes: tuple[Outcome, ...] = Field(min_length=1)  # attempts with these outcomes count
    limit: int = Field(ge=1, le=1000)
    days: int = Field(ge=1, le=366)
    scope: Literal["debtor", "debt"]  # all the borrower's loans, or the request's loan only
    agencies: Literal["together", "each"]  # the lender and all agencies together, or each on its own

    @model_validator(mode="after")
    def _kind(self) -> Cap:
        if self.kind == "daily_cap" and self.days != 1:
            raise ValueError("a daily_cap has days: 1")
        if self.kind == "cooldown" and self.limit != 1:
            raise ValueError("a cooldown has limit: 1 (one counted attempt starts it)")
        return self

    @property
    def rule(self) -> str:
        return f"{self.kind}.{self.name}"


class ThirdParty(Sourced):
    allowed: bool
    purposes: tuple[Purpose, ...] = ()
    after_failed_contacts: int | None = Field(default=None, ge=1)  # consecutive failed debtor contacts first
    failed_contact_methods: tuple[Method, ...] = ()
    failed_outcomes: tuple[Outcome, ...] = ()
    max_contacts_per_person: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> ThirdParty:
        if self.allowed and not self.purposes:
            raise ValueError("purposes: list what a third party may be contacted for")
        if self.after_failed_contacts and not (self.failed_contact_methods and self.failed_outcomes):
            raise ValueError("after_failed_contacts needs failed_contact_methods and failed_outcomes")
        return self


class ProfileFile(Sourced):
    code: str
    name_zh: str
    name_en: str
    quiet_hours: QuietHours
    caps: tuple[Cap, ...] = ()
    third_party: ThirdParty

    @model_validator(mode="after")
    def _unique(self) -> ProfileFile:
        names = [c.name for c in self.caps]
        if len(names) != len(set(names)):
            raise ValueError(f"caps: names must be unique, got {names}")
        return self


class Freeze(Sourced):
    label_zh: str
    label_en: str
    allowed_purposes: tuple[Purpose, ...] = ()


class Phrases(Sourced):
    label_zh: str
    label_en: str
    patterns: tuple[str, ...] = Field(min_length=1)


class ContentRule(Phrases):
    rule: str = Field(pattern=r"^[a-z][a-z_]{1,39}$")


class Amounts(Sourced):
    label_zh: str
    label_en: str
    pattern: str  # one money expression; its first number, × 10,000 if it says 万, is the amount


class ForbiddenFile(Sourced):
    freezes: dict[Literal["do_not_contact", "open_complaint", "collection_stopped"], Freeze]
    third_party_disclosure: Phrases
    content: tuple[ContentRule, ...]
    amounts: Amounts

    @model_validator(mode="after")
    def _complete(self) -> ForbiddenFile:
        if len(self.freezes) != 3:
            raise ValueError("freezes: do_not_contact, open_complaint and collection_stopped are all required")
        rules = [c.rule for c in self.content]
        if len(rules) != len(set(rules)) or "false_amount" in rules:
            raise ValueError("content: rule names must be unique and not false_amount (built in)")
        return self


@dataclass(frozen=True)
class RuleInfo:
    order: int
    reason_zh: str
    reason_en: str
    time_based: bool


@dataclass(frozen=True)
class Profile:
    """A loaded profile: its file, the shared forbidden list, compiled patterns and the rule table."""

    code: str
    spec: ProfileFile
    forbidden: ForbiddenFile
    content: tuple[tuple[str, str], ...]  # (rule, combined pattern)
    disclosure: str
    amounts: str
    rules: dict[str, RuleInfo]

    @property
    def rule_names(self) -> list[str]:
        return sorted(self.rules, key=lambda r: self.rules[r].order)


def combine(patterns: tuple[str, ...]) -> str:
    """One case-insensitive alternation: one pass per rule, the same text for re and RE2."""
    return "(?i)" + "|".join(f"(?:{p})" for p in patterns)


def _check_pattern(pattern: str, where: str) -> None:
    if _SHORTHAND.search(pattern):
        raise ValueError(f"{where}: {pattern!r} uses \\d \\w \\s or \\b; write the class out (e.g. [0-9])")
    try:
        re.compile(pattern)
        pc.match_substring_regex(pa.array([""]), pattern)  # RE2 (bulk): no look-arounds or back-references
    except (re.error, pa.ArrowInvalid) as exc:
        raise ValueError(f"{where}: {pattern!r} is not a usable regular expression: {exc}") from None


def _patterns_ok(forbidden: ForbiddenFile, path: Path) -> None:
    groups = [("third_party_disclosure.patterns", forbidden.third_party_disclosure.patterns)]
    groups += [(f"content.{i}.patterns", c.patterns) for i, c in enumerate(forbidden.content)]
    try:
        for where, patterns in groups:
            for k, p in enumerate(patterns):
                _check_pattern(p, f"{where}.{k}")
            _check_pattern(combine(patterns), where)
        _check_pattern(forbidden.amounts.pattern, "amounts.pattern")
        if re.compile(forbidden.amounts.pattern).search("") is not None:
            raise ValueError("amounts.pattern: must not match empty text")
    except ValueError as exc:
        raise PolicyError(f"{path}: {exc}") from None


def _rules(spec: ProfileFile, forbidden: ForbiddenFile) -> dict[str, RuleInfo]:
    tp = spec.third_party
    quiet = "、".join(f"{w.start}–{w.end}" for w in spec.quiet_hours.windows)
    entries: list[tuple[str, str, str, bool]] = [
        (name, f.label_zh, f.label_en, False) for name, f in
        sorted(forbidden.freezes.items(), key=lambda kv: RULE_ORDER_DOC.index(kv[0]))]
    tp_rules = [
        ("third_party.forbidden", not tp.allowed, "本规范不允许联系第三方", "this profile never allows contacting third parties"),
        ("third_party.disclosure", True, forbidden.third_party_disclosure.label_zh,
         forbidden.third_party_disclosure.label_en),
        ("third_party.purpose", tp.allowed, f"联系第三方仅限以下目的:{', '.join(tp.purposes)}",
         f"a third party may only be contacted to: {', '.join(tp.purposes)}"),
        ("third_party.debtor_reachable", tp.allowed and tp.after_failed_contacts is not None,
         f"须连续 {tp.after_failed_contacts} 次联系债务人失败后方可联系第三方",
         f"third parties only after {tp.after_failed_contacts} consecutive failed contacts with the debtor"),
        ("third_party.repeat", tp.allowed and tp.max_contacts_per_person is not None,
         f"同一第三方最多联系 {tp.max_contacts_per_person} 次",
         f"at most {tp.max_contacts_per_person} contact(s) with the same third party"),
    ]
    entries += [(name, zh, en, False) for name, applies, zh, en in tp_rules if applies]
    entries += [(f"content.{c.rule}", c.label_zh, c.label_en, False) for c in forbidden.content]
    entries.append(("content.false_amount", forbidden.amounts.label_zh, forbidden.amounts.label_en, False))
    entries.append(("quiet_hours", f"借款人当地时间 {quiet} 为免打扰时段",
                    f"quiet hours {quiet.replace('、', ', ')} in the borrower's local time", True))
    entries += [(c.rule, f"{c.label_zh}(上限 {c.limit} 次 / {c.days} 天)",
                 f"{c.label_en} (limit {c.limit} per {c.days} day(s))", True) for c in spec.caps]
    return {name: RuleInfo(i, zh, en, tb) for i, (name, zh, en, tb) in enumerate(entries)}


def load_forbidden(path: Path) -> ForbiddenFile:
    forbidden = validate_model(ForbiddenFile, read_yaml(path), path)
    _patterns_ok(forbidden, path)  # type: ignore[arg-type]
    return forbidden  # type: ignore[return-value]


def load_profile(path: Path, forbidden: ForbiddenFile) -> Profile:
    spec: ProfileFile = validate_model(ProfileFile, read_yaml(path), path)  # type: ignore[assignment]
    if spec.code != path.stem:
        raise PolicyError(f"{path}: code: {spec.code!r} must match the file name {path.stem!r}")
    content = tuple((f"content.{c.rule}", combine(c.patterns)) for c in forbidden.content)
    return Profile(code=spec.code, spec=spec, forbidden=forbidden, content=content,
                   disclosure=combine(forbidden.third_party_disclosure.patterns),
                   amounts=forbidden.amounts.pattern, rules=_rules(spec, forbidden))


def load_profiles(directory: str | Path | None = None) -> dict[str, Profile]:
    """All profiles of a directory laid out like the package (forbidden.yaml, profiles/*.yaml)."""
    root = Path(directory) if directory else PACKAGED
    forbidden = load_forbidden(root / "forbidden.yaml")
    profiles = {p.stem: load_profile(p, forbidden) for p in sorted((root / "profiles").glob("*.yaml"))}
    if not profiles:
        raise PolicyError(f"{root / 'profiles'}: no profile files")
    return profiles


@lru_cache(maxsize=4)
def packaged_profiles() -> dict[str, Profile]:
    return load_profiles()
