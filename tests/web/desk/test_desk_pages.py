"""The negotiations list and the desk, on both backends: who may come in (a collector may not, a borrower
never sees these pages), personal data decrypted only for the roles allowed, and the hardship verification
with its maker-checker refusal."""

from __future__ import annotations

import re

import pytest
from desk_world import NAME, STAFF, build, open_with_offer, staff

from arrears.negotiation.tables import HardshipApplication, Negotiation, Offer
from arrears.privacy import PersonalDataCipher

pytestmark = pytest.mark.business_date("2026-03-10")
INCOME = "3,000.00"  # 小王's part-time income: only in the decrypted statement


@pytest.fixture
def world(db, secret_key, make_client):
    w = build(db, PersonalDataCipher(secret_key))
    with make_client(*STAFF) as client:
        yield client, w


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_list_shows_the_waiting_application_and_opens_a_negotiation_on_it(world, db):
    c, w = world
    c.login("negotiator")
    page = c.get("/negotiations")
    assert page.status_code == 200 and "待核实的困难申请" in page.text and w["loan_no"] in page.text
    assert "没有符合条件的协商" in page.text  # no negotiation yet
    r = c.post("/negotiations", data={"loan_no": w["loan_no"], "application_id": str(w["app"])},
               follow_redirects=False)
    assert r.status_code == 303
    with db.session() as s:
        neg = s.query(Negotiation).one()
        assert (neg.loan_id, neg.application_id, neg.opened_by) == (w["loan"], w["app"], "negotiator")
    assert r.headers["location"] == f"/negotiations/{neg.id}"
    listed = c.get("/negotiations?status=open").text
    assert f'href="/negotiations/{neg.id}"' in listed and f'href="/negotiations/{neg.id}#hardship"' in listed
    assert f'href="/negotiations/{neg.id}"' not in c.get("/negotiations?status=agreed").text
    again = c.post("/negotiations", data={"loan_no": w["loan_no"]})  # one open negotiation per loan
    assert again.status_code == 409 and "本笔贷款已有进行中的协商" in again.text
    unknown = c.post("/negotiations", data={"loan_no": "NOPE"})
    assert unknown.status_code == 422 and 'id="loan_no-error"' in unknown.text and "没有该编号的贷款" in unknown.text


def test_a_collector_cannot_reach_the_desk_or_approvals(world, db):
    c, w = world
    w = open_with_offer(db, w)
    c.login("collector")
    for path in ("/negotiations", f"/negotiations/{w['neg']}", "/approvals",
                 f"/negotiations/{w['neg']}/calculator?periods=12"):
        r = c.get(path)
        assert r.status_code == 403, path
        assert INCOME not in r.text and NAME not in r.text
    r = c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": w["offer_version"]})
    assert r.status_code == 403
    with db.session() as s:
        assert s.get(Offer, w["offer"]).status == "pending_approval"
    assert c.post(f"/negotiations/{w['neg']}/offers", data={"terms": "{}"}).status_code == 403


def test_a_borrower_never_reaches_the_staff_pages(world, db):
    c, w = world
    w = open_with_offer(db, w)
    c.login("xiaowang")
    for path in ("/negotiations", f"/negotiations/{w['neg']}", "/approvals", f"/negotiations/{w['neg']}/calculator"):
        r = c.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/portal"), path  # the shared staff gate
        assert INCOME not in r.text
    r = c.post(f"/approvals/offers/{w['offer']}", data={"action": "approve", "version": 1}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/portal")
    with db.session() as s:
        assert s.get(Offer, w["offer"]).status == "pending_approval"


def test_signed_out_goes_to_sign_in(world):
    c, _ = world
    for path in ("/negotiations", "/approvals", "/negotiations/1"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_negotiator_sees_the_statement_but_a_masked_identity(world, db):
    c, w = world
    w = open_with_offer(db, w, verify=False)
    c.login("negotiator")
    page = c.get(f"/negotiations/{w['neg']}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "王*明" in text and NAME not in text and "139****2222" in text
    assert INCOME in text and "失业金" in text and "公司裁员" in text  # the statement, decrypted for the desk
    assert "可承受月还款额 875.00" in text  # (4,800 − 3,050) × 50 %
    assert "远低于标准：可能少报" in text  # transport 150 yuan against a norm of 688.48


def test_the_supervisor_sees_the_identity(world, db):
    c, w = world
    w = open_with_offer(db, w, verify=False)
    c.login("supervisor")
    text = _text(c.get(f"/negotiations/{w['neg']}").text)
    assert f"{NAME} (B-XW)" in text and "13900002222" in text


def test_the_desk_ranks_options_side_by_side_with_charts(world, db):
    c, w = world
    w = open_with_offer(db, w)
    c.login("negotiator")
    html = c.get(f"/negotiations/{w['neg']}").text
    cards = re.findall(r'<article class="card option"', html)
    assert len(cards) == 4
    charts = re.findall(r'<svg class="chart" viewBox="0 0 600 180" role="img" aria-label="([^"]+)"', html)
    assert charts[:4] == [f"方案 {n} 的每期还款" for n in range(1, 5)]
    assert "完成概率" in html and "预期回收" in html and "净现值" in html
    assert "月供占可支配收入" in html  # the service's Chinese explanation
    assert html.count('name="terms"') == 4  # each card can be offered as it is


def test_verify_refuses_whoever_filed_it(db, secret_key, make_client):
    w = build(db, PersonalDataCipher(secret_key), filed_by=staff("negotiator"))
    with make_client(*STAFF) as c:
        w = open_with_offer(db, w, verify=False)
        c.login("negotiator")
        with db.session() as s:
            version = s.get(HardshipApplication, w["app"]).version
        form = {"application_id": w["app"], "version": version, "decision": "verified", "note": "已核实"}
        r = c.post(f"/negotiations/{w['neg']}/hardship", data=form)
        assert r.status_code == 409 and "提交申请的人不能核实该申请" in r.text and 'value="已核实"' in r.text
        with db.session() as s:
            assert s.get(HardshipApplication, w["app"]).status == "submitted"
        c.post("/logout")
        c.login("supervisor")
        stale = c.post(f"/negotiations/{w['neg']}/hardship", data={**form, "version": version + 1})
        assert stale.status_code == 409 and "已有其他人修改了该记录" in stale.text
        ok = c.post(f"/negotiations/{w['neg']}/hardship", data=form, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"].endswith("done=verified#hardship")
        with db.session() as s:
            app = s.get(HardshipApplication, w["app"])
            assert (app.status, app.reviewed_by) == ("verified", "supervisor")


def test_english_desk(world, db):
    c, w = world
    w = open_with_offer(db, w)
    c.login("negotiator")
    text = _text(c.get(f"/negotiations/{w['neg']}?lang=en").text)
    assert "Ranked plan options" in text and "Completion probability" in text and "of disposable income" in text
    assert "Personal data is masked for your role." in text
