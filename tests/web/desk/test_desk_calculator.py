"""The desk's calculator on both backends: a plain GET form whose errors stand next to their fields with the
typed values kept, the services' limits named at the field they concern (the card's 60-period legal limit,
the rate cap, a waiver above what is owed), the fragment desk.js swaps in, and offers made from it or from a
ranked option (rounds.make_offer), refused terms creating nothing."""

from __future__ import annotations

import json
import re

import pytest
from desk_world import STAFF, build, open_with_offer

from arrears.negotiation.tables import Offer
from arrears.privacy import PersonalDataCipher

pytestmark = pytest.mark.business_date("2026-03-10")
FORM = {"calc": "1", "kind": "instalments", "periods": "24", "rate": "12", "holiday": "0", "step": "50",
        "waiver_principal": "0", "waiver_interest": "0", "waiver_penalty": "120.00", "waiver_fee": "0",
        "waiver_cost": "0", "conditional": "1"}


@pytest.fixture
def desk(db, secret_key, make_client):
    w = open_with_offer(db, build(db, PersonalDataCipher(secret_key)))
    with make_client(*STAFF) as client:
        client.login("negotiator")
        yield client, w


def _error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error field-error" id="calc-err-{field}" aria-live="polite">(.*?)</p>', html, re.DOTALL)
    assert found, field
    return found.group(1).strip()


def _invalid(html: str, field: str) -> bool:
    return re.search(rf'id="calc-{field}" name="{field}" aria-describedby="calc-err-{field}" aria-invalid="true"',
                     html) is not None


def test_the_calculator_recalculates_the_plan_as_a_get_form(desk):
    c, w = desk
    html = c.get(f"/negotiations/{w['neg']}", params=FORM).text
    result = html[html.index('id="calc-result"'):]
    assert "符合所有限额，且在您的权限内" in result and "完成概率" in result
    assert "120.00（占欠款的 0.7%）" in result  # the penalty waived, as a share of 16,112.81
    assert result.count("<rect ") == 24 and "测算方案的还款计划" in result
    assert all(_error(html, f) == "" for f in ("periods", "rate", "waiver_penalty"))


def test_malformed_fields_are_named_next_to_them_and_the_values_kept(desk):
    c, w = desk
    html = c.get(f"/negotiations/{w['neg']}", params={**FORM, "periods": "十二", "rate": "abc",
                                                        "waiver_penalty": "1.234"}).text
    assert _error(html, "periods") == "请输入整数" and _invalid(html, "periods")
    assert _error(html, "rate") == "请输入 0 至 100 之间的百分比" and _invalid(html, "rate")
    assert _error(html, "waiver_penalty") == "请输入金额（元），最多两位小数"
    assert 'value="十二"' in html and 'value="abc"' in html and 'value="1.234"' in html
    assert _error(html, "holiday") == "" and not _invalid(html, "holiday")
    assert 'class="verdict' not in html  # nothing to judge until the form reads


def test_limits_are_refused_at_their_fields(desk):
    c, w = desk
    html = c.get(f"/negotiations/{w['neg']}", params={**FORM, "periods": "49", "rate": "13",
                                                        "waiver_penalty": "120.01"}).text
    assert _error(html, "periods") == "期数须在 1 至 48 期之间（产品及法规上限）"  # 惠民贷: 48 months
    assert _error(html, "rate") == "年利率须在 0 至 12.0% 之间：不得高于原合同利率和法定上限"
    assert _error(html, "waiver_penalty") == "减免金额不得超过所欠金额"
    assert "不允许：请查看上方标出的字段" in html and "您权限内最接近的方案" in html


def test_the_card_limit_of_60_periods(db, secret_key, make_client):
    """A credit card's personalised instalment: 60 periods at most (信用卡业务监督管理办法, legal.yaml)."""
    from datetime import date

    from desk_world import add_wang, staff

    from arrears.negotiation import rounds
    with db.session() as s:
        _, loan = add_wang(s, PersonalDataCipher(secret_key), no="CARD-1", borrower_no="B-CARD", product="credit_card")
        neg = rounds.open_negotiation(s, staff("negotiator"), loan_id=loan.id, today=date(2026, 3, 10))
        s.commit()
        neg_id = neg.id
    with make_client(*STAFF) as c:
        c.login("negotiator")
        html = c.get(f"/negotiations/{neg_id}/calculator", params={**FORM, "periods": "61"}).text
        assert _error(html, "periods") == "期数须在 1 至 60 期之间（产品及法规上限）"
        html = c.get(f"/negotiations/{neg_id}/calculator", params={**FORM, "periods": "60"}).text
        assert _error(html, "periods") == "" and 'class="verdict' in html


def test_the_fragment_is_the_calculator_alone(desk):
    c, w = desk
    r = c.get(f"/negotiations/{w['neg']}/calculator", params={**FORM, "holiday": "7"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="calc-fragment">')
    assert "<html" not in r.text and _error(r.text, "holiday") == "还款宽限期最长 6 个月"
    en = c.get(f"/negotiations/{w['neg']}/calculator", params={**FORM, "holiday": "7", "lang": "en"}).text
    assert _error(en, "holiday") == "A payment holiday lasts at most 6 months"


def _offers(db, neg_id: int) -> list[Offer]:
    with db.session() as s:
        rows = s.query(Offer).filter_by(negotiation_id=neg_id).order_by(Offer.seq).all()
        s.expunge_all()
        return rows


def test_an_offer_from_the_calculator(desk, db):
    c, w = desk
    r = c.post(f"/negotiations/{w['neg']}/offers", data=FORM, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=offered#rounds")
    first, second = _offers(db, w["neg"])
    assert first.status == "superseded" and second.status == "open"  # within the negotiator's authority
    assert second.terms["periods"] == 24 and second.terms["waiver"]["penalty"] == 12_000
    assert second.made_by == "negotiator" and second.waived_fen == 12_000
    rounds_table = c.get(f"/negotiations/{w['neg']}").text.split('id="rounds"')[1]
    assert "已被替代" in rounds_table and "待对方答复" in rounds_table


def test_a_refused_offer_creates_nothing_and_comes_back_at_the_field(desk, db):
    c, w = desk
    r = c.post(f"/negotiations/{w['neg']}/offers", data={**FORM, "periods": "49"})
    assert r.status_code == 422 and _error(r.text, "periods") == "期数须在 1 至 48 期之间（产品及法规上限）"
    assert 'id="calc-periods" name="periods" aria-describedby="calc-err-periods" aria-invalid="true" value="49"' \
        in r.text
    r = c.post(f"/negotiations/{w['neg']}/offers", data={**FORM, "periods": ""})
    assert r.status_code == 422 and _error(r.text, "periods") == "必填"
    assert len(_offers(db, w["neg"])) == 1


def test_an_offer_from_a_ranked_option(desk, db):
    c, w = desk
    html = c.get(f"/negotiations/{w['neg']}").text
    raw = re.search(r'name="terms" value="([^"]+)"', html).group(1)
    terms = json.loads(raw.replace("&#34;", '"').replace("&quot;", '"'))
    r = c.post(f"/negotiations/{w['neg']}/offers", data={"terms": json.dumps(terms)}, follow_redirects=False)
    assert r.status_code == 303
    made = _offers(db, w["neg"])[-1]
    assert made.terms == terms and made.party == "institution"
    bad = c.post(f"/negotiations/{w['neg']}/offers", data={"terms": "{not json"})
    assert bad.status_code == 422 and "无法读取方案条件" in bad.text


def test_withdraw_with_the_version_the_page_showed(desk, db):
    c, w = desk
    stale = c.post(f"/negotiations/{w['neg']}/offers/{w['offer']}", data={"action": "withdraw",
                                                                          "version": w["offer_version"] + 1})
    assert stale.status_code == 409 and "已有其他人修改了该记录" in stale.text
    assert _offers(db, w["neg"])[0].status == "pending_approval"
    ok = c.post(f"/negotiations/{w['neg']}/offers/{w['offer']}", data={"action": "withdraw",
                                                                       "version": w["offer_version"]},
                follow_redirects=False)
    assert ok.status_code == 303 and _offers(db, w["neg"])[0].status == "withdrawn"


def test_the_first_payment_date_is_chosen_as_a_date(desk):
    c, w = desk
    html = c.get(f"/negotiations/{w['neg']}/calculator", params={**FORM, "holiday": "3"}).text
    assert '<option value="0" >2026年4月10日（不设宽限期）</option>' in html
    assert '<option value="3" selected>2026年7月10日（宽限 3 个月）</option>' in html
    assert "2026年7月10日 还 " in html  # the plan's first payment falls on the chosen date
    en = c.get(f"/negotiations/{w['neg']}/calculator", params={**FORM, "holiday": "1", "lang": "en"}).text
    assert "10 May 2026 (1 month's payment holiday)" in en and "2026年" not in en
