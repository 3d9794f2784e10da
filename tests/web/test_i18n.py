"""The pages' languages (Chinese by default, English on request), the catalogues behind them, the pages'
independence from any other host, and the accessibility basics every page keeps."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from arrears.auth import service
from arrears.loans.tables import Loan
from arrears.web import i18n
from support import PASSWORD

pytestmark = pytest.mark.business_date("2026-06-10")
WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # languages do not depend on the database


# --- choosing the language ------------------------------------------------------------------------------

def test_the_switch_wins_then_the_cookie_then_the_browser_then_chinese():
    assert i18n.select_locale("en", "zh_CN", "zh-CN") == "en"
    assert i18n.select_locale(None, "en", "zh-CN,zh") == "en"
    assert i18n.select_locale("xx", "en", "zh") == "en"  # an unknown switch value is ignored
    assert i18n.select_locale(None, None, "en-GB,en;q=0.8") == "en"
    assert i18n.select_locale(None, "fr", "de, fr") == "zh_CN"
    assert i18n.select_locale(None, None, None) == "zh_CN"


@pytest.mark.parametrize(("header", "locale"), [
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
    ("fr-FR, en;q=0.2, zh;q=0.5", "zh_CN"),  # by weight, not by position
    ("zh-TW", "zh_CN"),  # the only Chinese there is
    ("zh-Hans-CN", "zh_CN"),
    ("en;q=0, zh;q=abc", None),  # q=0 refuses; a weight that is not a number counts as 0
    ("*", None),
    ("", None),
])
def test_accept_language(header, locale):
    assert i18n.from_accept_language(header) == locale


# --- the catalogues -----------------------------------------------------------------------------------

def _extracted() -> set[str | tuple[str, str]]:
    found = extract_from_dir(
        WEB, method_map=[("**/templates/**.html", "jinja2"), ("**.py", "python")],
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}})
    return {message if isinstance(message, str) else tuple(message) for _, _, message, _, _ in found}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_message_is_translated_in_every_catalogue(locale):
    entries, problems, seen_in = {}, [], {}
    for path in i18n.po_paths(locale):
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
        for m in catalog:
            if not m.id:
                continue
            key = m.id if isinstance(m.id, str) else tuple(m.id)
            assert key not in entries, f"{locale}: {key!r} is in both {seen_in[key]} and {path.name}"
            entries[key], seen_in[key] = m, path.name
        problems += [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    wanted = _extracted()
    assert wanted, "no messages extracted from the templates"
    assert sorted(map(str, wanted - entries.keys())) == [], f"{locale}: messages missing from the catalogue"
    assert sorted(map(str, entries.keys() - wanted)) == [], f"{locale}: obsolete entries (run pybabel update)"
    untranslated = [str(k) for k, m in entries.items()
                    if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert untranslated == [], f"{locale}: empty or fuzzy translations"
    assert problems == [], f"{locale}: placeholders differ between msgid and msgstr"


def test_catalogues_are_compiled_from_the_po_files_alone():
    assert list(WEB.glob("locale/**/*.mo")) == []  # nothing compiled to go stale
    assert i18n.translations("zh_CN").gettext("Sign in") == "登录"
    assert i18n.translations("zh_CN").ngettext("%(count)s day", "%(count)s days", 5) == "%(count)s 天"
    assert i18n.translations("en").ngettext("%(count)s day", "%(count)s days", 1) == "%(count)s day"


def test_no_text_for_users_left_in_python_or_yaml():
    assert not (WEB / "labels.zh.yaml").exists()
    # The only Chinese left is the Chinese date format (年 月 日) of i18n.format_date.
    leftovers = [f"{path.relative_to(WEB)}: {line}" for path in WEB.rglob("*.py")
                 for line in path.read_text(encoding="utf-8").splitlines() if CJK.search(line) and "DATE_FORMAT" not in line]
    assert leftovers == []


# --- the pages in both languages ----------------------------------------------------------------------

@pytest.fixture
def site(db, make_client, loan_id):
    with db.session() as s:
        service.create_user(s, username="zhangsan", display_name="张三", password=PASSWORD, role="borrower",
                            actor="setup", borrower_id=s.get(Loan, loan_id).borrower_id)
        s.commit()
    with make_client("collector") as client:
        client.loan_id = loan_id  # type: ignore[attr-defined]
        yield client


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@SQLITE_ONLY
def test_chinese_by_default_with_a_link_to_english(site):
    r = site.get("/login")
    assert '<html lang="zh-CN">' in r.text and "用户名" in r.text
    assert r.headers["content-language"] == "zh-CN"
    assert '<a class="lang-switch" href="/login?lang=en" hreflang="en" lang="en">English</a>' in r.text


@SQLITE_ONLY
def test_an_english_browser_gets_english(site):
    r = site.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in r.text and "User name" in r.text and r.headers["content-language"] == "en"
    assert 'hreflang="zh-CN" lang="zh-CN">中文</a>' in r.text


@SQLITE_ONLY
def test_the_switch_is_remembered_in_a_cookie(site):
    r = site.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in r.text and "lang=en" in r.headers["set-cookie"]
    assert "Max-Age=31536000" in r.headers["set-cookie"] and "Path=/" in r.headers["set-cookie"]
    assert '<html lang="en">' in site.get("/login", headers={"Accept-Language": "zh-CN"}).text
    r = site.get("/login?lang=zh_CN")
    assert '<html lang="zh-CN">' in r.text and "lang=zh_CN" in r.headers["set-cookie"]
    assert "set-cookie" not in site.get("/login?lang=zh_CN").headers  # already remembered


@SQLITE_ONLY
def test_english_pages_say_nothing_in_chinese(site):
    site.cookies.set("lang", "en")
    for path in ("/", "/login"):
        html = site.get(path).text.replace(">中文</a>", "></a>")
        assert CJK.findall(_text(html)) == [], path
    r = site.login("", "")
    assert r.text.count("Required") == 2
    r = site.login("collector", "wrong")
    assert "Wrong user name or password" in r.text


@SQLITE_ONLY
def test_staff_pages_in_english(site):
    site.login("collector")
    site.cookies.set("lang", "en")
    book = site.get("/loans?q=L1&product=consumer_loan")
    assert "1 loan in all" in book.text and "Consumer loan" in book.text and "Equal instalments" in book.text
    assert 'href="/loans?q=L1&amp;product=consumer_loan&amp;lang=zh_CN"' in book.text  # the filter is kept
    page = site.get(f"/loans/{site.loan_id}").text
    assert "Loan L1" in page and "Repayment schedule" in page and "1,200.00 yuan" in page
    assert "Personal data is masked for your role." in page and "Collector" in page
    assert "No. 1" in page


@SQLITE_ONLY
def test_borrower_portal_in_both_languages(site):
    site.login("zhangsan")
    zh = site.get("/portal").text
    assert "您好，张三" in zh and "您的权利" in zh and "<th scope=\"row\">本金</th>" in zh
    assert "当前未还合计 <strong>" in zh and "<details class=\"card schedule\">" in zh
    en = site.get("/portal?lang=en").text
    assert "Hello, 张三" in en and "Your rights" in en and "You owe <strong>" in en


# --- nothing from another host ------------------------------------------------------------------------

EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


def test_templates_and_styles_name_no_other_host():
    files = [*TEMPLATES.glob("*.html"), WEB / "static" / "app.css"]
    assert len(files) > 5
    found = {f.name: EXTERNAL.findall(f.read_text(encoding="utf-8")) for f in files}
    assert {k: v for k, v in found.items() if v} == {}


class _Refs(HTMLParser):
    """Collects what a page loads or links to, its labels and form fields, and its first focusable element."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.labels: set[str] = set()
        self.fields: list[dict] = []
        self.ids: set[str] = set()
        self.lang: str | None = None
        self.focusable: list[dict] = []
        self.col_headers_without_scope = 0
        self._in_thead = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("id"):
            self.ids.add(a["id"])
        for name in ("src", "href", "action"):
            if a.get(name):
                self.refs.append(a[name])
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.fields.append(a)
        if tag in ("a", "button", "input", "select", "textarea") or a.get("tabindex") == "0":
            self.focusable.append({"tag": tag, **a})
        if tag == "thead":
            self._in_thead = True
        if tag == "th" and self._in_thead and "scope" not in a:
            self.col_headers_without_scope += 1

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False


def _parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def _pages(site) -> dict[str, str]:
    pages = {"home": site.get("/").text, "login": site.get("/login").text,
             "login errors": site.login("", "").text, "docs": site.get("/api/v1/docs").text}
    site.login("collector")
    pages |= {"loan book": site.get("/loans").text, "loan": site.get(f"/loans/{site.loan_id}").text,
              "not found": site.get("/loans/999999").text}
    site.post("/logout")
    site.login("zhangsan")
    pages |= {"portal": site.get("/portal").text}
    return pages


@SQLITE_ONLY
@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_pages_load_nothing_from_another_host(site, lang):
    site.cookies.set("lang", lang)
    for name, html in _pages(site).items():
        refs = _parse(html).refs
        outside = [r for r in refs if EXTERNAL.match(r) or r.startswith("//")]
        assert outside == [], name
        for ref in refs:
            if ref.startswith("/static/"):
                assert site.get(ref).status_code == 200, ref


@SQLITE_ONLY
def test_the_api_docs_use_the_packaged_swagger_ui(site):
    html = site.get("/api/v1/docs").text
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        assert f"/static/vendor/swagger-ui/{asset}" in html
        r = site.get(f"/static/vendor/swagger-ui/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert '"validatorUrl": null' in html and "cdn" not in html.lower()
    assert (WEB / "static" / "vendor" / "swagger-ui" / "LICENSE").exists()


# --- accessibility basics -----------------------------------------------------------------------------

@SQLITE_ONLY
@pytest.mark.parametrize("lang", i18n.LOCALES)
def test_every_page_has_its_language_a_skip_link_and_labelled_fields(site, lang):
    site.cookies.set("lang", lang)
    for name, html in _pages(site).items():
        if name == "docs":  # Swagger UI's own page
            continue
        page = _parse(html)
        assert page.lang == i18n.html_lang(lang), name
        first = page.focusable[0]
        assert first["tag"] == "a" and first.get("class") == "skip-link" and first["href"] == "#main", name
        assert "main" in page.ids, name
        unlabelled = [f for f in page.fields if f.get("id") not in page.labels and not f.get("aria-label")]
        assert unlabelled == [], name
        assert page.col_headers_without_scope == 0, name


@SQLITE_ONLY
def test_form_errors_are_tied_to_their_fields(site):
    html = site.login("", "").text
    assert 'aria-describedby="username-error"' in html and 'id="username-error"' in html
    assert 'aria-describedby="password-error"' in html and 'aria-invalid="true"' in html


def test_focus_is_always_visible():
    css = (WEB / "static" / "app.css").read_text(encoding="utf-8")
    assert re.search(r":focus-visible[^{]*\{[^}]*outline:\s*3px solid", css)
    assert ".skip-link:focus" in css
    assert "outline: none" not in css.replace("main:focus { outline: none; }", "") \
        .replace("main:focus-visible { outline: none; }", "")
