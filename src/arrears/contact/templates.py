"""Notification templates: the catalogue (``templates/catalog.yaml``), Jinja2 rendering with StrictUndefined and
the compliance content rules every rendered text must pass before it may be queued.

Checked when the catalogue loads: each template exists in every language, uses only its declared variables
and ``institution``, has the blocks it needs, and a sample rendering passes the content rules (so a phrase
such as 后果自负 or a hard-coded amount in a template file stops the load, naming the file).
Checked at render: the variables given are exactly those declared, with their types; then the content rules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import jinja2
from jinja2 import meta
from pydantic import BaseModel, ConfigDict, Field

from arrears.compliance.content import content_hits, stated_amounts_fen
from arrears.compliance.model import Purpose
from arrears.compliance.policy import Profile, packaged_profiles
from arrears.errors import InvalidInput
from arrears.money import format_yuan
from arrears.products.catalog import PolicyError, read_yaml, validate_model

PACKAGED = Path(__file__).parent / "templates"
LANGUAGES = ("zh-CN", "en")  # the first is the default: Chinese first
BLOCKS = {"subject", "body", "sms"}
GLOBALS = {"institution"}
MAX_TEXT = 500
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
VarType = Literal["text", "int", "fen", "date"]
SAMPLES: dict[str, object] = {"text": "样例", "int": 7, "fen": 123_456, "date": date(2026, 1, 2)}


class TemplateLoadError(PolicyError):
    """A template or the catalogue that does not load; names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateSpec(_Strict):
    purpose: Purpose
    quiet_hours: bool  # held outside the profile's quiet hours at send time
    channels: tuple[Literal["email", "sms", "letter", "app"], ...] = Field(min_length=1)
    variables: dict[str, VarType]


class Localised(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.zh if language.startswith("zh") else self.en


class Institution(_Strict):
    name: Localised
    hotline: str
    service_hours: Localised
    complaint_hotline: str
    complaint_email: str
    external_complaint: Localised
    repayment_channels: tuple[Localised, ...] = Field(min_length=1)

    def for_language(self, language: str) -> dict[str, object]:
        return {"name": self.name.get(language), "hotline": self.hotline,
                "service_hours": self.service_hours.get(language), "complaint_hotline": self.complaint_hotline,
                "complaint_email": self.complaint_email, "external_complaint": self.external_complaint.get(language),
                "repayment_channels": [c.get(language) for c in self.repayment_channels]}


class CatalogFile(_Strict):
    source: str = Field(min_length=3)
    verified: Literal["primary", "secondary", "unverified"]
    templates: dict[str, TemplateSpec] = Field(min_length=1)
    institution: Institution


@dataclass(frozen=True, repr=False)
class Rendered:
    template: str
    language: str
    channel: str
    subject: str
    body: str
    spec: TemplateSpec

    def __repr__(self) -> str:  # the text carries personal data: keep it out of logs and tracebacks
        return f"Rendered({self.template!r}, {self.language!r}, {self.channel!r})"


def normalise_language(language: str | None) -> str:
    """zh, zh-CN, zh_Hans … → zh-CN; en, en-US … → en; None → zh-CN."""
    if language is None:
        return LANGUAGES[0]
    code = language.strip().replace("_", "-").lower()
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    raise InvalidInput(f"no templates in language {language!r}; use one of {list(LANGUAGES)}", field="language",
                       rule="template.language")


def yuan(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"yuan takes int fen, not {type(value).__name__}")
    return format_yuan(value)


def date_zh(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def date_en(value: date) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _typed(name: str, kind: str, value: object) -> object:
    ok = {"text": isinstance(value, str) and len(value) <= MAX_TEXT,
          "int": isinstance(value, int) and not isinstance(value, bool),
          "fen": isinstance(value, int) and not isinstance(value, bool),
          "date": isinstance(value, date)}[kind]
    if not ok:
        limit = f" of at most {MAX_TEXT} characters" if kind == "text" else ""
        raise InvalidInput(f"must be {kind}{limit}, got {type(value).__name__}", field=f"variables.{name}",
                           rule="template.variable_type")
    return value


class TemplateCatalog:
    """Templates of one folder (the packaged one by default), checked at load against one compliance profile."""

    def __init__(self, directory: str | Path | None = None, profile: str | Profile = "cn-bank") -> None:
        self.directory = Path(directory) if directory else PACKAGED
        self.profile = packaged_profiles()[profile] if isinstance(profile, str) else profile
        path = self.directory / "catalog.yaml"
        spec: CatalogFile = validate_model(CatalogFile, read_yaml(path), path)  # type: ignore[assignment]
        self.specs: dict[str, TemplateSpec] = spec.templates
        self.institution = spec.institution
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.directory),
                                      undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                                      lstrip_blocks=True)
        self.env.filters.update(yuan=yuan, date_zh=date_zh, date_en=date_en)
        self._templates = {(name, lang): self._load(name, lang) for name in self.specs for lang in LANGUAGES}
        stray = {p.name for p in self.directory.glob("*.txt")} - {f"{n}.{lg}.txt" for n, lg in self._templates}
        if stray:
            raise TemplateLoadError(f"{self.directory}: template files not in catalog.yaml: {sorted(stray)}")

    def _load(self, name: str, language: str) -> jinja2.Template:
        file = f"{name}.{language}.txt"
        path = self.directory / file
        try:
            source = path.read_text(encoding="utf-8")
            ast = self.env.parse(source, file)
        except OSError:
            raise TemplateLoadError(f"{path}: missing (every template needs {', '.join(LANGUAGES)})") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateLoadError(f"{path}:{exc.lineno}: {exc.message}") from None
        spec = self.specs[name]
        undeclared = meta.find_undeclared_variables(ast) - GLOBALS - set(spec.variables)
        if undeclared:
            raise TemplateLoadError(f"{path}: uses undeclared variable(s) {sorted(undeclared)}; declare them under "
                                    f"templates.{name}.variables in catalog.yaml")
        template = self.env.get_template(file)
        blocks = set(template.blocks)
        if not {"subject", "body"} <= blocks or blocks - BLOCKS:
            raise TemplateLoadError(f"{path}: needs the blocks subject and body (and optionally sms), "
                                    f"has {sorted(blocks)}")
        sample = {var: SAMPLES[kind] for var, kind in spec.variables.items()}
        for channel in spec.channels:  # a sample rendering: filters, institution fields, content rules
            try:
                self._render(name, language, channel, template, sample)
            except InvalidInput as exc:
                raise TemplateLoadError(f"{path}: a sample rendering breaks {exc.rule}: {exc.detail}") from None
            except (jinja2.TemplateError, TypeError, ValueError) as exc:
                raise TemplateLoadError(f"{path}: a sample rendering fails: {exc}") from None
        return template

    def spec(self, name: str) -> TemplateSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise InvalidInput(f"unknown template {name!r}; use one of {sorted(self.specs)}", field="template",
                               rule="template.unknown") from None

    def render(self, name: str, *, language: str | None, channel: str, variables: dict[str, object]) -> Rendered:
        """The subject and body for one channel; refuses bad variables and text breaking a content rule."""
        spec = self.spec(name)
        lang = normalise_language(language)
        if channel not in spec.channels:
            raise InvalidInput(f"template {name!r} is not sent by {channel}; it goes by {list(spec.channels)}",
                               field="channel", rule="template.channel")
        unknown = sorted(set(variables) - set(spec.variables))
        if unknown:
            raise InvalidInput(f"template {name!r} takes no variable(s) {unknown}; "
                               f"it takes {sorted(spec.variables)}", field=f"variables.{unknown[0]}", rule="template.unknown_variable")
        missing = sorted(set(spec.variables) - set(variables))
        if missing:
            raise InvalidInput(f"template {name!r} needs the variable(s) {missing}", field=f"variables.{missing[0]}",
                               rule="template.missing_variable")
        values = {var: _typed(var, spec.variables[var], variables[var]) for var in spec.variables}
        try:
            return self._render(name, lang, channel, self._templates[(name, lang)], values)
        except jinja2.UndefinedError as exc:  # StrictUndefined: e.g. an attribute that does not exist
            raise InvalidInput(f"template {name!r}: {exc.message}", field="template",
                               rule="template.undefined") from None

    def _render(self, name: str, language: str, channel: str, template: jinja2.Template,
                values: dict[str, object]) -> Rendered:
        context = template.new_context({**values, "institution": self.institution.for_language(language)})
        blocks = {b: "".join(template.blocks[b](context)).strip() for b in template.blocks}
        subject = " ".join(blocks["subject"].split())  # one header line, whatever the template did
        body = blocks["sms"] if channel == "sms" and "sms" in blocks else blocks["body"]
        spec = self.specs[name]
        money = [v for var, v in values.items() if spec.variables[var] == "fen"]
        check_content(self.profile, f"{subject}\n{body}", money)
        return Rendered(name, language, channel, subject, body, spec)


def check_content(profile: Profile, text: str, amounts_fen: list[object]) -> None:
    """The guard's content rules (forbidden.yaml). Amounts: a notice must itemise what is owed (total and
    penalty), so each amount the text states must be one of the amounts passed in, all from the ledger."""
    hits = content_hits(profile, text)
    allowed = {Decimal(a) for a in amounts_fen if isinstance(a, int)}
    if not hits and any(a not in allowed for a in stated_amounts_fen(profile, text)):
        hits = ["content.false_amount"]
    if hits:
        info = profile.rules[hits[0]]
        raise InvalidInput(f"refused by the compliance content rule {hits[0]}: {info.reason_zh} ({info.reason_en})",
                           field="template", rule=hits[0])


@lru_cache(maxsize=4)
def _cached(directory: str | None) -> TemplateCatalog:
    return TemplateCatalog(directory)


def catalog() -> TemplateCatalog:
    """The templates in force: ARREARS_CONTACT_DIR if set, else the packaged ones (cached)."""
    return _cached(os.environ.get("ARREARS_CONTACT_DIR"))
