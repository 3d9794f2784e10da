"""Dates are written in the page's language (Chinese 2026年2月5日, English 5 Feb 2026); amounts stay yuan to the
fen with thousands separators in both."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment

from arrears.web import i18n
from arrears.web.render import templates

pytestmark = pytest.mark.business_date("2026-03-10")
ZH_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")


def test_format_date_follows_the_locale():
    assert i18n.format_date(date(2026, 11, 30), "zh_CN") == "2026年11月30日"
    assert i18n.format_date(date(2026, 11, 30), "en") == "30 Nov 2026"
    assert i18n.format_date(date(2026, 1, 5), "en") == "5 Jan 2026"
    assert i18n.format_date(datetime(2026, 2, 5, 8, 30), "en") == "5 Feb 2026"
    assert i18n.format_date(None, "en") == "" and i18n.format_date(None, "zh_CN") == ""


def test_the_filter_reads_the_templates_locale():
    env: Environment = templates.env
    t = env.from_string("{{ d | cn_date }} · {{ n | yuan }}")
    assert t.render(d=date(2026, 11, 30), n=123_456_789) == "2026年11月30日 · 1,234,567.89"  # no locale: Chinese
    assert t.render(d=date(2026, 11, 30), n=123_456_789, locale="zh_CN") == "2026年11月30日 · 1,234,567.89"
    assert t.render(d=date(2026, 11, 30), n=123_456_789, locale="en") == "30 Nov 2026 · 1,234,567.89"


def test_a_charts_date_axis_follows_the_locale_and_the_granularity():
    day = date(2026, 11, 30)
    assert [i18n.format_tick(day, "zh_CN", g) for g in ("day", "week", "month")] == ["11月30日", "11月30日", "2026年11月"]
    assert [i18n.format_tick(day, "en", g) for g in ("day", "week", "month")] == ["Nov 30", "Nov 30", "Nov 2026"]
    t = templates.env.from_string("{{ d | tick_date(g) }}")
    assert t.render(d=date(2026, 1, 5), g="day") == "1月5日"  # no locale: Chinese
    assert t.render(d=date(2026, 1, 5), g="month", locale="en") == "Jan 2026"


def test_a_charts_number_axis_is_short_in_the_page_language():
    # 100,000,000 yuan was written out in full and clipped at the chart's left edge ("00,000,000").
    assert [i18n.format_tick_number(n, "zh_CN") for n in (0, 9_999, 12_500, 75_000_000, 100_000_000)] == \
        ["0", "9,999", "1.25万", "7,500万", "1亿"]
    assert [i18n.format_tick_number(n, "en") for n in (0, 9_999, 12_500, 75_000_000, 2_500_000_000)] == \
        ["0", "9,999", "12.5K", "75M", "2.5B"]
    t = templates.env.from_string("{{ n | tick_number }}")
    assert t.render(n=100_000_000) == "1亿" and t.render(n=100_000_000, locale="en") == "100M"


UNITS = {"亿": 10**8, "万": 10**4, "B": 10**9, "M": 10**6, "K": 10**3, "": 1}


@given(n=st.integers(min_value=-10**14, max_value=10**14), locale=st.sampled_from(["zh_CN", "en"]))
def test_an_axis_number_reads_back_within_half_a_hundredth_of_its_unit(n, locale):
    label = i18n.format_tick_number(n, locale)
    number, unit = re.fullmatch(r"(-?[\d,]+(?:\.\d{1,2})?)(亿|万|B|M|K|)", label).groups()
    value = Decimal(number.replace(",", "")) * UNITS[unit]
    assert abs(value - n) * 200 <= UNITS[unit]


def test_the_loan_page_in_both_languages(make_client, loan_id):
    with make_client("collector") as c:
        c.login("collector")
        zh = c.get(f"/loans/{loan_id}?lang=zh_CN").text
        en = c.get(f"/loans/{loan_id}?lang=en").text
    assert "2026年2月5日" in zh and "2026年3月5日" in zh and "609.00" in zh
    assert "5 Feb 2026" in en and "5 Mar 2026" in en and "609.00" in en
    assert ZH_DATE.findall(en) == []
    assert "1,200.00" in zh and "1,200.00" in en
