"""The legal case pages on both backends: who may read and who may change, the borrower masked for roles without
personal data, amounts in yuan text refused next to the field ("12.345", "-1", "abc"), a stale form, the legal
cap refusal next to the award, the compliance guard's refusal of a notice with its rule, deadlines after the
judgment in the list, and the evidence bundle."""

from __future__ import annotations

import re

import pytest
from legal_desk_support import BUSINESS_DATE, NAME, accessibility_problems, complain, xiao_li

from arrears.audit.tables import Event
from arrears.auth import service as auth
from arrears.legal.bundle import verify_bundle
from arrears.legal.tables import Hearing, LegalCase
from support import PASSWORD

pytestmark = pytest.mark.business_date(BUSINESS_DATE)
FILING = {"version": "1", "court": "上海市浦东新区人民法院", "court_case_no": "(2024)沪0115民初9号",
          "firm": "示范律师事务所", "lawyer": "王律师", "filed_on": "2024-06-03", "claim": "3,300.00"}
JUDGMENT = {"version": "2", "judgment_no": "(2024)沪0115民初9号", "judgment_on": "2024-06-03",
            "served_on": "2024-06-03", "interest_until": "2024-06-03", "principal": "3000.00",
            "interest": "300.00", "penalty": "300.00", "fee": "", "costs": "50.00"}


@pytest.fixture
def court(db, tmp_path, secret_key, make_client):
    ids = xiao_li(db, tmp_path, secret_key)
    with db.session() as s:
        auth.create_user(s, username="xiaoli", display_name=NAME, password=PASSWORD, role="borrower", actor="t",
                         borrower_id=ids["borrower"])
        s.commit()
    with make_client("legal", "compliance", "collector") as client:
        client.ids = ids  # type: ignore[attr-defined]
        client.url = f"/legal/{ids['legal_case']}"  # type: ignore[attr-defined]
        yield client


def _error(html: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{form}-{field}-error" role="alert">(.*?)</p>', html, re.DOTALL)
    return found.group(1).strip() if found else ""


def test_who_may_read_and_who_may_change(court):
    assert court.get(court.url, follow_redirects=False).headers["location"] == "/login"
    court.login("collector")
    assert court.get("/legal").status_code == 403 and court.get(court.url).status_code == 403
    court.post("/logout")
    court.login("xiaoli")
    assert court.get(court.url, follow_redirects=False).headers["location"] == "/portal"
    court.post("/logout")
    court.login("compliance")  # reads, masked, changes nothing
    page = court.get(court.url).text
    assert "L-LI" in page and "李*明" in page and NAME not in page and "3101**********1234" in page
    assert 'action="/legal/' not in page  # no forms, no evidence bundle
    assert court.post(f"{court.url}/filing", data=FILING).status_code == 403
    assert court.post(f"{court.url}/evidence-bundle").status_code == 403
    assert court.get("/legal/999999").status_code == 404
    court.post("/logout")
    court.login("legal")
    page = court.get(court.url).text
    assert NAME in page and "登记立案" in page and "生成并下载证据材料包" in page


@pytest.mark.parametrize(("claim", "message"), [
    ("12.345", "最多两位小数"), ("-1", "金额必须大于零"), ("abc", "最多两位小数"), ("", "必填")])
def test_amounts_in_yuan_text_are_refused_next_to_their_field(court, claim, message):
    court.login("legal")
    r = court.post(f"{court.url}/filing", data={**FILING, "claim": claim})
    assert r.status_code == 422 and message in _error(r.text, "filing", "claim")
    assert 'aria-describedby="filing-claim-error"' in r.text
    assert 'value="上海市浦东新区人民法院"' in r.text and f'name="claim" type="text" value="{claim}"' in r.text
    with court.db.session() as s:
        assert s.get(LegalCase, court.ids["legal_case"]).filed_on is None


def test_filing_a_hearing_and_a_stale_form(court):
    court.login("legal")
    r = court.post(f"{court.url}/filing", data={**FILING, "filed_on": "2024-13-01"})
    assert r.status_code == 422 and "年-月-日" in _error(r.text, "filing", "filed_on")
    r = court.post(f"{court.url}/filing", data={**FILING, "filed_on": "2024-06-01"})  # before the case was opened
    assert r.status_code == 422 and "早于上一步骤" in _error(r.text, "filing", "filed_on")
    r = court.post(f"{court.url}/filing", data=FILING, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{court.url}#filing"
    page = court.get(court.url).text
    assert "(2024)沪0115民初9号" in page and "3,300.00 元" in page and "2024年6月3日" in page

    r = court.post(f"{court.url}/judgment", data={**JUDGMENT, "version": "1", "interest": "100", "penalty": "50"})
    assert r.status_code == 409 and "他人已修改了这件诉讼案件" in r.text
    assert 'name="judgment_no" type="text" value="(2024)沪0115民初9号"' in r.text  # typed values kept

    r = court.post(f"{court.url}/hearing", data={"held_on": "2024-06-03", "kind": "mediation", "note": "双方到庭"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert "调解" in court.get(court.url).text and "双方到庭" in court.get(court.url).text
    r = court.post(f"{court.url}/hearing", data={"held_on": "2024-05-01", "kind": "hearing"})
    assert r.status_code == 422 and "早于上一步骤" in _error(r.text, "hearing", "held_on")
    with court.db.session() as s:
        assert s.query(Hearing).count() == 1


def test_the_legal_cap_refusal_is_shown_next_to_the_award_and_deadlines_follow_a_judgment(court):
    court.login("legal")
    court.post(f"{court.url}/filing", data=FILING)
    r = court.post(f"{court.url}/judgment", data=JUDGMENT)
    assert r.status_code == 422
    award = _error(r.text, "judgment", "award")
    assert "600.00 元" in award and "法定上限" in award
    assert "legal.judgment_cap.financial_loan_total_cost_cap" in award and "法发〔2017〕22号" in award
    with court.db.session() as s:
        assert s.get(LegalCase, court.ids["legal_case"]).judgment_on is None
    r = court.post(f"{court.url}/judgment", data={**JUDGMENT, "interest": "100.00", "penalty": "50.00"},
                   follow_redirects=False)
    assert r.status_code == 303
    page = court.get(court.url).text
    assert "上诉期限" in page and "2024年6月18日" in page and "申请执行期限" in page
    listing = court.get("/legal").text
    assert "L-LI" in listing and "2024年6月18日 · 上诉期限" in listing and "已判决" in listing
    assert "共 1 件诉讼案件" in listing and "没有符合条件" in court.get("/legal?status=closed").text


def test_a_recovery_is_posted_once_and_a_future_date_refused(court):
    court.login("legal")
    key = re.search(r'name="key" value="([0-9a-f]{32})"', court.get(court.url).text).group(1)
    r = court.post(f"{court.url}/recovery", data={"amount": "500", "received_on": "2024-07-01",
                                                  "source": "voluntary", "key": key})
    assert r.status_code == 422 and "日期不能晚于今天" in _error(r.text, "recovery", "received_on")
    assert f'name="key" value="{key}"' in r.text  # the same key again, so a resubmit posts once
    for _ in range(2):
        r = court.post(f"{court.url}/recovery", data={"amount": "500", "received_on": "2024-06-03",
                                                      "source": "voluntary", "key": key}, follow_redirects=False)
        assert r.status_code == 303
    page = court.get(court.url).text
    assert "主动还款" in page and "500.00 元" in page  # recovered in all: one payment, not two
    with court.db.session() as s:
        assert s.get(LegalCase, court.ids["legal_case"]).recovered_fen == 50_000


def test_notices_go_through_the_guard_which_names_its_rule(court, secret_key):
    court.login("legal")
    r = court.post(f"{court.url}/notice", data={"kind": "lawyer_letter", "channel": "letter"})
    assert r.status_code == 422 and "律师函须写明律师事务所和律师" in r.text
    complain(court.db, secret_key, court.ids["borrower"])  # an open complaint freezes contact
    r = court.post(f"{court.url}/notice", data={"kind": "pre_suit_notice", "channel": "letter"})
    assert r.status_code == 409 and "合规校验不允许发送此通知（规则 open_complaint）" in r.text
    court.cookies.set("lang", "en")
    r = court.post(f"{court.url}/notice", data={"kind": "pre_suit_notice", "channel": "letter"})
    assert "The compliance guard refuses this notice (rule open_complaint)" in r.text


def test_a_notice_is_queued_and_listed(court):
    court.login("legal")
    r = court.post(f"{court.url}/notice", data={"kind": "lawyer_letter", "channel": "letter",
                                                "firm": "示范律师事务所", "lawyer": "王律师"}, follow_redirects=False)
    assert r.status_code == 303, re.findall(r"class=\"error\"[^<]*", r.text)
    assert r.headers["location"].endswith("#notices")
    page = court.get(court.url).text
    assert re.search(r"<td>律师函</td><td>信函</td>", page) and "等待发送" in page


def test_the_evidence_bundle_is_built_downloaded_and_audited(court):
    court.login("legal")
    r = court.post(f"{court.url}/evidence-bundle")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert verify_bundle(r.content) == []
    with court.db.session() as s:
        built = s.query(Event).filter_by(action="legal.evidence_bundle_built").one()
        assert built.actor == "legal" and built.after["manifest_sha256"] == r.headers["X-Manifest-SHA256"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # markup does not depend on the database
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_field_is_labelled_and_every_column_header_scoped(court, secret_key, lang):
    cid = complain(court.db, secret_key, court.ids["borrower"])
    with court.db.session() as s:
        auth.create_user(s, username="sup", display_name="sup", password=PASSWORD, role="supervisor", actor="t")
        s.commit()
    court.cookies.set("lang", lang)
    court.login("legal")
    court.post(f"{court.url}/filing", data=FILING)
    court.post(f"{court.url}/judgment", data={**JUDGMENT, "interest": "100", "penalty": "50"})
    pages = {"list": court.get("/legal").text, "case": court.get(court.url).text,
             "refused": court.post(f"{court.url}/cost", data={"kind": "court_fee", "amount": "abc"}).text}
    court.post("/logout")
    court.login("sup")
    pages |= {"desk": court.get("/complaints").text, "complaint": court.get(f"/complaints/{cid}").text,
              "stats": court.get("/complaints/stats").text, "exits": court.get("/writeoffs").text,
              "objections": court.get("/credit/objections").text}
    court.post("/credit/objections", data={"loan_no": "L-LI", "claim": "三月并未逾期"})
    pages["objection"] = court.get("/credit/objections/1").text
    assert "三月并未逾期" in pages["objection"]
    assert {name: accessibility_problems(html) for name, html in pages.items()} == {name: [] for name in pages}
    assert "enforcement-kind" in pages["case"]  # the judged case offers enforcement
