"""Content rules on message text (Chinese and English), and the stated amount against the amount owed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from compliance_helpers import NY, PROFILES, SH, at, both, req

from arrears.compliance.content import stated_amounts_fen


def _text(text: str, profile: str = "cn-bank", owed: int | None = 123_456, tz=SH):
    return both(req(at(tz, 2026, 3, 2, 10), template_text=text, amount_owed_fen=owed), profile=profile)


@pytest.mark.parametrize(("text", "rule"), [
    ("请于三日内还款,否则后果自负。", "content.threat"),
    ("再不还钱,我们就通知你单位和家人。", "content.threat"),
    ("再不还钱打断你的腿。", "content.violence"),
    ("你这个老赖,赶紧还钱。", "content.insult"),
    ("我们是法院的,通知你明天到庭。", "content.impersonation"),
    ("派出所民警提醒您尽快还款。", "content.impersonation"),
    ("逾期将被列入征信黑名单。", "content.fake_blacklist"),
    ("不还款将被拘留,还会影响子女上学。", "content.false_consequence"),
    ("可以先去别的平台借钱把这笔还上。", "content.new_borrowing"),
    ("建议以贷养贷,先周转一下。", "content.new_borrowing"),
    ("本次需另付催收费,请一并转账。", "content.extra_fees"),
    ("请缴纳上门服务费后安排上门。", "content.extra_fees"),
])
def test_each_content_rule_blocks_chinese_text(text, rule):
    d = _text(text)
    assert d.rule == rule and d.next_allowed_at is None
    assert d.reason_zh and d.reason_en


@pytest.mark.parametrize(("text", "rule"), [
    ("Pay now or you will go to jail.", "content.false_consequence"),
    ("This is the police. Call us back.", "content.impersonation"),
    ("We will add a collection fee.", "content.extra_fees"),
    ("You are a DEADBEAT.", "content.insult"),
])
def test_english_phrases_in_us_regf(text, rule):
    assert _text(text, profile="us-regf", tz=NY).rule == rule


def test_a_plain_reminder_passes():
    assert _text("您好,您本期应还款1,234.56元,如有困难可致电协商还款计划。").allowed
    assert _text("Your payment of $1,234.56 is due. Call us to discuss a plan.", profile="us-regf", tz=NY).allowed


@pytest.mark.parametrize(("text", "owed", "allowed"), [
    ("请归还欠款1,234.56元。", 123_456, True),
    ("请归还欠款 ¥1234.56", 123_456, True),
    ("请归还欠款人民币1,234.56元", 123_456, True),
    ("请归还欠款1,234.57元。", 123_456, False),
    ("欠款共计1.5万元。", 1_500_000, True),
    ("欠款共计1.5万元。", 1_500_001, False),
    ("本期1,234.56元,总欠款2,000元。", 123_456, False),  # every stated amount must be the amount owed
    ("请归还欠款1,234.56元。", None, False),  # nothing to prove it against
    ("请尽快与我们联系。", None, True),  # states no amount
    ("您的第3期账单已于2026年3月5日到期。", 123_456, True),  # dates and counts are not amounts
])
def test_false_amount(text, owed, allowed):
    d = _text(text, owed=owed)
    assert d.allowed is allowed
    assert allowed or d.rule == "content.false_amount"


def test_stated_amounts_in_fen():
    profile = PROFILES["cn-bank"]
    assert stated_amounts_fen(profile, "应还1,234.56元,另¥20,合计3万元") == \
        [Decimal(123456), Decimal(2000), Decimal(3000000)]
    assert stated_amounts_fen(profile, "USD 12.5 and 7 dollars") == [Decimal(1250), Decimal(700)]


def test_content_and_time_rules_together_give_no_next_time():
    d = both(req(at(SH, 2026, 3, 2, 23), template_text="老赖"))
    assert d.broken == ("content.insult", "quiet_hours") and d.next_allowed_at is None
