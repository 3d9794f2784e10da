"""The pages' language: Simplified Chinese by default, English available, through gettext catalogues.

Which language a request gets, first match wins:

1. ``?lang=zh_CN`` or ``?lang=en`` on any page (the header's switch link): used at once and remembered in
   the ``lang`` cookie (one year);
2. the ``lang`` cookie;
3. the browser's ``Accept-Language`` (any ``zh`` tag means Simplified Chinese, any ``en`` tag English);
4. ``zh_CN``.

``LocaleMiddleware`` decides and leaves the answer in ``request.state.locale``; ``template_context`` gives a
template its locale, its ``<html lang>`` and the switch links; ``install`` gives the Jinja2 environment the
``{% trans %}`` tag and ``_()``, which look up the catalogue of the locale of the template's own context,
so concurrent requests in different languages never share a catalogue.

Catalogues: ``locale/<locale>/LC_MESSAGES/*.po`` are the source of truth and the only files kept: ``messages.po``
for the shared pages and one file per area of pages (``workbench.po``, ``portal.po`` …), merged into one
catalogue per locale; a message lives in exactly one file. They are compiled in memory with Babel when the app starts (``create_app`` calls ``load_catalogues``, so a
broken catalogue stops the start-up): no ``.mo`` to go stale or to forget, nothing written into the package. Messages are English (msgid); every msgid must have a translation in
each catalogue — ``tests/web/test_i18n.py`` extracts the templates' messages and fails on any missing,
empty or fuzzy one. To refresh after editing templates::

    pybabel extract -F src/arrears/web/locale/babel.cfg -o /tmp/messages.pot --no-location --sort-output \\
        -w 110 src/arrears/web
    pybabel update -i /tmp/messages.pot -d src/arrears/web/locale -w 110 --no-fuzzy-matching --ignore-obsolete

then translate the new entries in both ``messages.po`` files.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import get_month_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.money import round_fen

LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
COOKIE = "lang"
QUERY = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).parent / "locale"


def normalize(tag: str | None) -> str | None:
    """The supported locale a language tag means (``zh``, ``zh-CN``, ``zh-Hans-CN`` → ``zh_CN``; ``en-GB`` →
    ``en``), or None for anything else."""
    primary = (tag or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(primary)


def from_accept_language(header: str | None) -> str | None:
    """The first supported locale of an Accept-Language header, by weight (q=0 means "not this one")."""
    choices: list[tuple[Decimal, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        weight = Decimal(1)
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = Decimal(value.strip())
                except ArithmeticError:
                    weight = Decimal(0)
        locale = normalize(tag)
        if locale and weight.is_finite() and weight > 0:
            choices.append((-weight, position, locale))
    return min(choices)[2] if choices else None


def select_locale(asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    return normalize(asked) or normalize(cookie) or from_accept_language(accept_language) or DEFAULT_LOCALE


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>`` and Content-Language: ``zh-CN``, ``en``."""
    return locale.replace("_", "-")


def language_name(locale: str) -> str:
    """A language's name in itself (Chinese in Chinese, English in English), from CLDR via Babel — never translated."""
    return Locale.parse(locale).get_language_name(locale)


def po_path(locale: str) -> Path:
    """The shared catalogue file of ``locale`` (areas of pages keep theirs beside it, see ``po_paths``)."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def po_paths(locale: str) -> list[Path]:
    """Every catalogue file of ``locale``: the shared one first, then the areas' in name order."""
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"), key=lambda p: (p != po_path(locale), p.name))


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of a supported locale, all its files merged (fuzzy entries are left out, as msgfmt
    does)."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; supported: {', '.join(LOCALES)}")
    merged: Translations | None = None
    for path in po_paths(locale):
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale, domain=DOMAIN)
        buffer = BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        part = Translations(fp=buffer, domain=DOMAIN)
        merged = part if merged is None else merged.merge(part)
    if merged is None:
        raise FileNotFoundError(f"no catalogue for {locale} in {LOCALE_DIR / locale / 'LC_MESSAGES'}")
    return merged


def load_catalogues() -> None:
    """Compiles every catalogue now, so a broken .po stops the app at start-up, not at a user's request."""
    for locale in LOCALES:
        translations(locale)


_EN_MONTHS = dict(get_month_names("abbreviated", locale="en"))  # CLDR: Jan … Dec


def format_date(day: date | None, locale: str) -> str:
    """A date as the page's language writes it: 2026-11-30 with 年 月 日 in Chinese (DATE_FORMAT), 30 Nov 2026
    in English, "" for none. Plain f-strings, not Babel's patterns: a dashboard formats thousands a page."""
    if not day:
        return ""
    if locale == "en":
        return f"{day.day} {_EN_MONTHS[day.month]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"  # DATE_FORMAT zh_CN, the default


def format_tick(day: date, locale: str, granularity: str = "day") -> str:
    """A chart's date-axis label, short, in the page's language: month and day (Nov 30 in English) for a point
    that is a day or a week (the week's last date), year and month (Nov 2026) for a month."""
    if granularity == "month":
        return f"{_EN_MONTHS[day.month]} {day.year}" if locale == "en" else f"{day.year}年{day.month}月"  # DATE_FORMAT
    return f"{_EN_MONTHS[day.month]} {day.day}" if locale == "en" else f"{day.month}月{day.day}日"  # DATE_FORMAT


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue (Babel extracts ``N_``); translated where it is used."""
    return message


# A chart axis's numbers, short, in the page's language: ten thousands and hundred millions in Chinese, K, M and B
# in English (the units' words are the catalogue's); below the smallest unit a number is written out.
_TICK_UNITS = {  # (from, unit, message)
    "zh_CN": ((10**8, 10**8, N_("%(n)s hundred million")), (10**4, 10**4, N_("%(n)s ten thousand"))),
    "en": ((10**9, 10**9, N_("%(n)s billion")), (10**6, 10**6, N_("%(n)s million")), (10**4, 10**3, N_("%(n)s thousand")))}


def format_tick_number(n: int, locale: str) -> str:
    """75000000 as 7,500 ten thousands in Chinese and 75M in English; at most two decimals (an axis label, not an amount:
    the data table beside it has the exact figures)."""
    for start, unit, message in _TICK_UNITS.get(locale, _TICK_UNITS[DEFAULT_LOCALE]):
        if abs(n) >= start:
            short = (Decimal(round_fen(Decimal(n) * 100 / unit)) / 100).normalize()  # hundredths of the unit
            return translations(locale).gettext(message) % {"n": f"{short:,f}"}
    return f"{n:,}"


@pass_context
def _tick_number_filter(context: Context, n: int) -> str:
    return format_tick_number(n, _context_locale(context))


@pass_context
def _date_filter(context: Context, day: date | None) -> str:
    return format_date(day, _context_locale(context))


@pass_context
def _tick_filter(context: Context, day: date, granularity: str = "day") -> str:
    return format_tick(day, _context_locale(context), granularity)


def _context_locale(context: Context) -> str:
    locale = context.get("locale")
    return locale if locale in LOCALES else DEFAULT_LOCALE


@pass_context
def _gettext(context: Context, message: str) -> str:
    return translations(_context_locale(context)).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(_context_locale(context)).ngettext(singular, plural, n)


@pass_context
def _pgettext(context: Context, message_context: str, message: str) -> str:
    return translations(_context_locale(context)).pgettext(message_context, message)


@pass_context
def _npgettext(context: Context, message_context: str, singular: str, plural: str, n: int) -> str:
    return translations(_context_locale(context)).npgettext(message_context, singular, plural, n)


@pass_context
def local_name(context: Context, thing: Any) -> str:
    """The name of a policy record (product, scheme level) in the template's language: its ``name_en`` in
    English, else its ``name_zh``; a plain value is shown as it is."""
    if thing is None:
        return ""
    if _context_locale(context) == "en" and getattr(thing, "name_en", None):
        return thing.name_en
    return getattr(thing, "name_zh", None) or str(thing)


def install(env: Environment) -> None:
    """Gives ``env`` the i18n extension (``{% trans %}``, ``_()``; new-style: autoescaped, ``%(name)s``
    placeholders filled by keyword) bound to each template context's ``locale``, ``local_name``, the
    ``cn_date`` filter (a date in the context's language) and ``tick_date`` (a chart axis's date)."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # babel.cfg extracts with trimmed = true as well
    env.install_gettext_callables(  # type: ignore[attr-defined]  (added by the extension)
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext)
    env.globals["local_name"] = local_name
    env.filters["local_name"] = local_name
    # Named for its default; writes the date in the template's language (``format_date``).
    env.filters["cn_date"] = _date_filter
    env.filters["tick_date"] = _tick_filter  # a chart axis's date (``format_tick``)
    env.filters["tick_number"] = _tick_number_filter  # a chart axis's number (``format_tick_number``)


def switch_href(request: Request, locale: str) -> str:
    """A relative link to the current page in ``locale``, keeping its other query parameters."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != QUERY] + [(QUERY, locale)]
    return f"{request.url.path}?{urlencode(params)}"


def request_locale(request: Request) -> str:
    locale = getattr(request.state, "locale", None)
    return locale if locale in LOCALES else select_locale(request.query_params.get(QUERY),
                                                          request.cookies.get(COOKIE),
                                                          request.headers.get("accept-language"))


def template_context(request: Request) -> dict[str, Any]:
    """A Jinja2Templates context processor: the request's locale, ``<html lang>`` and the switch links."""
    locale = request_locale(request)
    return {
        "locale": locale,
        "html_lang": html_lang(locale),
        "other_languages": [{"locale": other, "lang": html_lang(other), "name": language_name(other),
                             "href": switch_href(request, other)} for other in LOCALES if other != locale],
    }


def _cookie_header(locale: str, secure: bool) -> str:
    response = Response()
    response.set_cookie(COOKIE, locale, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=secure)
    return response.headers["set-cookie"]


class LocaleMiddleware:
    """Decides each HTTP request's locale (see the module's docstring) into ``request.state.locale``;
    remembers a ``?lang=`` choice in the cookie and labels HTML responses with Content-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        asked = normalize(request.query_params.get(QUERY))
        locale = select_locale(asked, request.cookies.get(COOKIE), request.headers.get("accept-language"))
        scope.setdefault("state", {})["locale"] = locale
        remember = asked is not None and normalize(request.cookies.get(COOKIE)) != asked
        secure = scope.get("scheme") == "https"

        async def send_labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Language"] = html_lang(locale)
                    headers.add_vary_header("Accept-Language")
                    headers.add_vary_header("Cookie")
                if remember:
                    headers.append("set-cookie", _cookie_header(locale, secure))
            await send(message)

        await self.app(scope, receive, send_labelled)

