"""Every portal page, in both languages: its language, the skip link first, every field labelled, column headers
scoped, error messages tied to their fields, nothing loaded from another host, and the portal's own style sheet."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from test_portal_agreement_page import _agreement
from test_portal_hardship_page import FORM

SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang, self.ids, self.labels, self.fields, self.focusable, self.refs = None, set(), set(), [], [], []
        self.described: list[str] = []
        self.unscoped, self._thead = 0, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.lang = a.get("lang") if tag == "html" else self.lang
        if a.get("id"):
            self.ids.add(a["id"])
        self.refs += [a[n] for n in ("src", "href", "action") if a.get(n)]
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
            self.fields.append(a)
            if a.get("aria-describedby"):
                self.described.append(a["aria-describedby"])
        if tag in ("a", "button", "input", "select", "textarea"):
            self.focusable.append({"tag": tag, **a})
        self._thead = True if tag == "thead" else self._thead
        if tag == "th" and self._thead and "scope" not in a:
            self.unscoped += 1

    def handle_endtag(self, tag):
        if tag == "thead":
            self._thead = False


def _pages(portal) -> dict[str, str]:
    pages = {"login": portal.get("/portal/login").text,
             "login code": portal.post("/portal/login", data={"identifier": "13999999999"}).text,
             "login error": portal.post("/portal/login/code", data={"identifier": "1", "code": "x"}).text}
    aid = _agreement(portal)
    portal.sign_in()
    loan = portal.ids["mine"]
    hardship = portal.post(f"/portal/loans/{loan}/hardship", data=FORM, follow_redirects=False).headers["location"]
    complaint = portal.post("/portal/complaints", data={"category": "service", "text": "x"},
                            follow_redirects=False).headers["location"]
    pages |= {
        "home": portal.get("/portal").text, "loan": portal.get(f"/portal/loans/{loan}").text,
        "hardship form": portal.get(f"/portal/loans/{loan}/hardship").text,
        "hardship errors": portal.post(f"/portal/loans/{loan}/hardship", data={"consent": ""}).text,
        "hardship": portal.get(hardship).text, "plans": portal.get(f"/portal/loans/{loan}/plans").text,
        "proposal": portal.post(f"/portal/loans/{loan}/propose", data={"periods": "600", "holiday_months": "0"}).text,
        "agreement": portal.get(f"/portal/agreements/{aid}").text,
        "agreement errors": portal.post(f"/portal/agreements/{aid}/sign", data={"code": "1"}).text,
        "messages": portal.get("/portal/messages").text, "complaints": portal.get("/portal/complaints").text,
        "complaint": portal.get(complaint).text, "not found": portal.get("/portal/loans/999999").text,
    }
    return pages


@SQLITE_ONLY
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_portal_page_keeps_the_basics(portal, lang):
    portal.cookies.set("lang", lang)
    for name, html in _pages(portal).items():
        page = _Page()
        page.feed(html)
        assert page.lang == lang.replace("_", "-"), name
        first = page.focusable[0]
        assert first["tag"] == "a" and first.get("class") == "skip-link", name
        unlabelled = [f for f in page.fields if f.get("id") not in page.labels]
        assert unlabelled == [], name
        assert page.unscoped == 0, name
        assert all(ref in page.ids for ref in page.described), name  # each error message exists
        assert [r for r in page.refs if EXTERNAL.match(r) or r.startswith("//")] == [], name
        if name != "not found":
            assert "/static/portal.css" in page.refs, name
        for ref in page.refs:
            if ref.startswith("/static/"):
                assert portal.get(ref).status_code == 200, ref


@SQLITE_ONLY
def test_english_portal_pages_say_nothing_in_chinese(portal):
    portal.cookies.set("lang", "en")
    cjk = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
    for name, html in _pages(portal).items():
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace(">中文</a>", "></a>")))
        text = text.replace("王小明", "").replace("李小红", "")  # names are data, not interface text; dates are English
        assert cjk.findall(text) == [], (name, cjk.findall(text)[:10])
