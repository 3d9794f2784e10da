"""Plans: the institution's open offers compared side by side, the borrower's own proposal judged at once
(acceptable / needs approval / not allowed with the nearest counter-offer), sent as the borrower's offer, and an
offer accepted; nobody else's loan or offer."""

from __future__ import annotations

import html
import json
import re

from sqlalchemy import select

from arrears.money import format_yuan
from arrears.negotiation.tables import Negotiation, Offer


def test_open_offers_are_compared_with_their_figures_and_one_is_accepted(portal):
    first = portal.staff_offer(periods=12)
    portal.sign_in()
    page = portal.get(f"/portal/loans/{portal.ids['mine']}/plans").text
    with portal.db.session() as s:
        offer = s.get(Offer, first)
        amounts = {sum(int(r.get(c, 0)) for c in ("principal", "interest", "penalty", "fee", "cost"))
                   for r in offer.plan["schedule"]}
    assert "我们提供的方案" in page and "12 个月" in page and format_yuan(offer.total_to_pay_fen) in page
    assert any(format_yuan(a) in page for a in amounts)  # the monthly payment
    assert page.count('<article class="plan"') == 1 and "接受这个方案" in page
    r = portal.post(f"/portal/offers/{first}/accept", follow_redirects=False)
    assert r.status_code == 303
    after = portal.get(r.headers["location"]).text
    assert "您已接受的方案" in after and "接受这个方案" not in after
    with portal.db.session() as s:
        neg = s.scalar(select(Negotiation).where(Negotiation.loan_id == portal.ids["mine"]))
        assert neg.status == "agreed" and neg.accepted_offer_id == first
    again = portal.post(f"/portal/offers/{first}/accept")
    assert again.status_code == 409 and 'role="alert"' in again.text  # no longer open, said on the page


def test_the_page_is_laid_out_to_compare(portal):
    portal.staff_offer(periods=6)
    portal.sign_in()
    page = portal.get(f"/portal/loans/{portal.ids['mine']}/plans").text
    assert 'class="compare"' in page and "每月还款" in page and "应还总额" in page and "减免" in page
    assert "6 个月" in page and "有效期至" in page


def test_a_modest_proposal_is_acceptable_and_can_be_sent(portal):
    portal.sign_in()
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/propose",
                    data={"periods": "12", "holiday_months": "0", "rate": "keep", "waive_penalty": ""})
    assert r.status_code == 200 and "我们可以同意这个方案" in r.text and "提交这个方案" in r.text
    terms = html.unescape(re.search(r'name="terms" value="([^"]+)"', r.text).group(1))
    assert json.loads(terms)["periods"] == 12
    sent = portal.post(f"/portal/loans/{portal.ids['mine']}/offers", data={"terms": terms}, follow_redirects=False)
    assert sent.status_code == 303
    with portal.db.session() as s:
        offer = s.scalar(select(Offer).where(Offer.loan_id == portal.ids["mine"]))
        assert offer.party == "borrower" and offer.status == "open" and offer.terms["periods"] == 12
    assert "您提出的方案" in portal.get(f"/portal/loans/{portal.ids['mine']}/plans").text


def test_a_plan_beyond_the_limits_is_not_allowed_with_the_nearest_counter_offer(portal):
    portal.sign_in()
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/propose",
                    data={"periods": "600", "holiday_months": "0", "rate": "keep"})
    assert r.status_code == 200 and "我们无法同意这个方案" in r.text
    assert "期数超过这笔贷款允许的上限" in r.text and "我们可以同意的最接近方案" in r.text
    assert "提交这个方案" not in r.text and "改为提出这个方案" in r.text


def test_proposal_fields_are_checked_at_the_edge(portal):
    portal.sign_in()
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/propose",
                    data={"periods": "abc", "holiday_months": "0", "rate": "keep", "waive_penalty": "1.234"})
    assert r.status_code == 400 and 'id="periods-error"' in r.text and 'id="waive_penalty-error"' in r.text
    assert 'value="abc"' in r.text and 'value="1.234"' in r.text
    bad = portal.post(f"/portal/loans/{portal.ids['mine']}/offers", data={"terms": "not json"})
    assert bad.status_code == 400 and "无法读取该方案" in bad.text


def test_another_borrowers_loan_and_offer_are_not_found(portal):
    theirs = portal.staff_offer("other")
    portal.sign_in()
    assert portal.get(f"/portal/loans/{portal.ids['other']}/plans").status_code == 404
    assert portal.post(f"/portal/loans/{portal.ids['other']}/propose", data={"periods": "12"}).status_code == 404
    assert portal.post(f"/portal/loans/{portal.ids['other']}/offers", data={"terms": "{}"}).status_code == 404
    assert portal.post(f"/portal/offers/{theirs}/accept").status_code == 404
    with portal.db.session() as s:
        assert s.get(Offer, theirs).status == "open"
