"""Approvals on both backends: an offer beyond the negotiator's authority approved by a supervisor (the limit
explained), no one approving their own offer, stale forms refused without a change; then the agreement
prepared and sent from the desk, signed by the borrower and countersigned by someone other than its preparer."""

from __future__ import annotations

import re

import pytest
from desk_world import NAME, STAFF, borrower_accepts, borrower_signs, build, open_with_offer

from arrears.agreements.tables import Agreement
from arrears.auth.model import Principal, Role
from arrears.negotiation.tables import Negotiation, Offer
from arrears.privacy import PersonalDataCipher

pytestmark = pytest.mark.business_date("2026-03-10")


@pytest.fixture
def world(db, secret_key, make_client):
    cipher = PersonalDataCipher(secret_key)
    w = open_with_offer(db, build(db, cipher))
    with make_client(*STAFF) as client:
        client.cipher = cipher  # type: ignore[attr-defined]
        yield client, w


def _offer(db, offer_id: int) -> Offer:
    with db.session() as s:
        o = s.get(Offer, offer_id)
        s.expunge(o)
        return o


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_only_those_who_approve_see_approvals(world):
    c, _ = world
    for role in ("collector", "negotiator"):
        c.login(role)
        assert c.get("/approvals").status_code == 403, role
        c.post("/logout")


def test_the_supervisor_approves_with_the_limit_explained(world, db):
    c, w = world
    assert w["offer_status"] == "pending_approval"
    c.login("supervisor")
    text = _text(c.get("/approvals").text)
    assert "需要主管审批" in text and NAME in text and "您按主管权限审批" in text
    assert "减免本金 1,000.00 元；法务协商专员权限上限 0.00 元" in text  # the limit the offer is beyond
    assert "减免 1,120.00 元；法务协商专员最多可减免 5,000.00 元" in text
    r = c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": w["offer_version"]},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/approvals?done=approved"
    o = _offer(db, w["offer"])
    assert (o.status, o.approved_by) == ("open", "supervisor")
    page = c.get("/approvals?done=approved").text
    assert "方案已批准，借款人现在可以接受。" in page and "没有待审批的方案" in page
    assert "由 supervisor 批准" in c.get(f"/negotiations/{w['neg']}").text


def test_a_stale_approval_changes_nothing(world, db):
    c, w = world
    c.login("supervisor")
    r = c.post(f"/approvals/offers/{w['offer']}", data={"action": "decline", "version": w["offer_version"] + 1})
    assert r.status_code == 409 and "已有其他人修改了该记录，本次未做任何更改" in r.text
    assert _offer(db, w["offer"]).status == "pending_approval"


def test_no_one_approves_their_own_offer(db, secret_key, make_client):
    """The supervisor made the offer while still a negotiator (the role changed since): still refused."""
    as_negotiator = Principal(user_id=7, username="supervisor", display_name="supervisor", role=Role.negotiator)
    w = build(db, PersonalDataCipher(secret_key))
    with make_client(*STAFF) as c:
        w = open_with_offer(db, w, maker=as_negotiator)
        assert _offer(db, w["offer"]).made_by == "supervisor"
        c.login("supervisor")
        r = c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": w["offer_version"]})
        assert r.status_code == 403 and "不得审批自己提出的方案" in r.text and 'id="offer-error"' in r.text
        assert _offer(db, w["offer"]).status == "pending_approval"


def _agreement(db) -> Agreement:
    with db.session() as s:
        a = s.query(Agreement).one()
        s.expunge(a)
        return a


def test_prepare_send_sign_and_countersign(world, db):
    c, w = world
    c.login("supervisor")
    c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": w["offer_version"]})
    c.post("/logout")
    borrower_accepts(db, w)
    c.login("negotiator")
    desk = c.get(f"/negotiations/{w['neg']}").text
    assert "借款人已接受方案，请据此生成还款协议。" in desk
    assert 'id="calculator"' not in desk and 'id="options"' not in desk  # agreed: no more plans to weigh
    r = c.post(f"/negotiations/{w['neg']}/agreement", data={"signing_method": "portal"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=prepared#agreement")
    a = _agreement(db)
    assert (a.status, a.prepared_by) == ("draft", "negotiator")
    again = c.post(f"/negotiations/{w['neg']}/agreement", data={"signing_method": "portal"})
    assert again.status_code == 409 and "本笔贷款已有进行中的协议" in again.text
    pdf = c.get(f"/negotiations/{w['neg']}/agreement/{a.id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    r = c.post(f"/negotiations/{w['neg']}/agreement/send", data={"agreement_id": a.id, "version": a.version},
               follow_redirects=False)
    assert r.status_code == 303
    a = _agreement(db)
    assert a.status == "sent_for_signature"
    assert "已发送借款人签署" in c.get(f"/negotiations/{w['neg']}").text
    borrower_signs(db, c.cipher, w, a.id)
    c.post("/logout")
    c.login("supervisor")
    a = _agreement(db)
    listed = c.get("/approvals").text
    assert "待复核签署的协议" in listed and f'href="/approvals/agreements/{a.id}.pdf"' in listed
    stale = c.post(f"/approvals/agreements/{a.id}", data={"version": a.version - 1})
    assert stale.status_code == 409 and "已有其他人修改了该记录" in stale.text and 'id="agreement-error"' in stale.text
    assert _agreement(db).status == "borrower_signed"
    r = c.post(f"/approvals/agreements/{a.id}", data={"version": a.version}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/approvals?done=countersigned"
    a = _agreement(db)
    assert (a.status, a.countersigned_by) == ("countersigned", "supervisor")
    assert "已生效" in c.get(f"/negotiations/{w['neg']}").text


def test_whoever_prepared_the_agreement_cannot_countersign_it(world, db):
    c, w = world
    c.login("supervisor")
    c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": w["offer_version"]})
    borrower_accepts(db, w)
    c.post(f"/negotiations/{w['neg']}/agreement", data={"signing_method": "portal"})
    a = _agreement(db)
    c.post(f"/negotiations/{w['neg']}/agreement/send", data={"agreement_id": a.id, "version": a.version})
    borrower_signs(db, c.cipher, w, a.id)
    a = _agreement(db)
    r = c.post(f"/approvals/agreements/{a.id}", data={"version": a.version})
    assert r.status_code == 403 and "拟定协议的人不能复核签署" in r.text
    assert _agreement(db).status == "borrower_signed"
    with db.session() as s:
        assert s.get(Negotiation, w["neg"]).status == "agreed"


def _more_pending_offers(db, offer_id: int, n: int) -> list[int]:
    """``n`` more offers pending approval, copies of ``offer_id`` as later rounds of its negotiation."""
    cols = [c.key for c in Offer.__table__.columns if c.key not in ("id", "seq")]
    with db.session() as s:
        first = s.get(Offer, offer_id)
        copies = [Offer(**{k: getattr(first, k) for k in cols}, seq=first.seq + i) for i in range(1, n + 1)]
        s.add_all(copies)
        s.commit()
        return [o.id for o in copies]


def test_every_pending_offer_is_reachable_page_by_page(world, db):
    """55 offers waiting: the first page lists the 50 oldest, the second the other 5, which can be approved."""
    c, w = world
    later = _more_pending_offers(db, w["offer"], 54)
    c.login("supervisor")
    first = c.get("/approvals")
    assert first.status_code == 200
    assert "55 项待处理" in _text(first.text) and "第 1 / 2 页" in _text(first.text)
    assert first.text.count('action="/approvals/offers/') == 50
    assert f'action="/approvals/offers/{later[-1]}"' not in first.text
    assert 'href="?offers_page=2&amp;agreements_page=1#offers" rel="next"' in first.text
    second = c.get("/approvals?offers_page=2&agreements_page=1")
    assert second.text.count('action="/approvals/offers/') == 5 and "第 2 / 2 页" in _text(second.text)
    assert f'action="/approvals/offers/{later[-1]}"' in second.text and "第 55 轮方案" in _text(second.text)
    assert 'href="?offers_page=1&amp;agreements_page=1#offers" rel="prev"' in second.text
    r = c.post(f"/approvals/offers/{later[-1]}", data={"action": "approve", "version": 1}, follow_redirects=False)
    assert r.status_code == 303 and _offer(db, later[-1]).status == "open"
    assert "54 项待处理" in _text(c.get("/approvals").text)
    beyond = c.get("/approvals?offers_page=999&agreements_page=x")  # past the end: the last page, no error
    assert beyond.status_code == 200 and "第 2 / 2 页" in _text(beyond.text)
    en = _text(c.get("/approvals?lang=en").text)
    assert "55 waiting" not in en and "54 waiting" in en and "Page 1 of 2" in en
