"""The legal API over HTTP: a legal officer takes 小李's case to law, sends the lawyer's letter, files, has an
over-cap judgment refused (problem+json naming the rule) and a lawful one recorded, and downloads the evidence
bundle, which verifies; roles without the permission get 403. The secret key of the app encrypts 小李's data."""

from __future__ import annotations

from datetime import date

from legal_helpers import case_version, xiao_li
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.cases.service import move_stage
from arrears.db.engine import unit_of_work
from arrears.legal.bundle import verify_bundle
from arrears.privacy import PersonalDataCipher


def test_a_legal_officer_takes_a_case_to_judgment_and_downloads_the_bundle(db, tmp_path, api, secret_key):
    ids = xiao_li(db, tmp_path, attempts=3, cipher=PersonalDataCipher(secret_key))
    for to_stage in ("reminder", "phone"):
        with unit_of_work(db.factory) as s:
            move_stage(s, case_id=ids["case"], to_stage=to_stage, actor="t", reason="无人接听",
                       expected_version=case_version(db, ids["case"]), today=date(2024, 3, 20))
    client, h = api("legal", "collector", "compliance")
    case = ids["case"]

    r = client.post(f"/api/v1/cases/{case}/legal", headers=h["collector"],
                    json={"expected_case_version": case_version(db, case), "reason": "转法务"})
    assert r.status_code == 403 and r.json()["rule"] == "auth.permission"
    r = client.post(f"/api/v1/cases/{case}/legal", headers=h["legal"],
                    json={"expected_case_version": case_version(db, case), "reason": "转法务"})
    assert r.status_code == 201, r.text
    lc = r.json()
    assert (lc["status"], lc["phase"], lc["version"]) == ("open", "preparing", 1)

    r = client.post(f"/api/v1/cases/{case}/legal-notices", headers=h["legal"],
                    json={"kind": "lawyer_letter", "firm": "示范律师事务所", "lawyer": "王律师"})
    assert r.status_code == 201 and r.json()["dedupe_key"] == f"legal:lawyer_letter:case:{case}"

    r = client.post(f"/api/v1/legal-cases/{lc['id']}/filing", headers=h["legal"], json={
        "expected_version": 1, "court": "上海市浦东新区人民法院", "court_case_no": "(2024)沪0115民初9号",
        "firm": "示范律师事务所", "lawyer": "王律师", "filed_on": "2024-06-03", "claim": "3300.00"})
    assert r.status_code == 200 and r.json()["claim_fen"] == 330_000
    r = client.post(f"/api/v1/legal-cases/{lc['id']}/filing", headers=h["legal"], json={
        "expected_version": 1, "court": "x", "court_case_no": "x", "firm": "x", "lawyer": "x",
        "filed_on": "2024-06-03", "claim": 1.5})
    assert r.status_code == 422  # an amount through a float is refused at the edge

    judgment = {"expected_version": 2, "judgment_no": "(2024)沪0115民初9号", "judgment_on": "2024-06-03",
                "served_on": "2024-06-03", "interest_until": "2024-06-03",
                "award": {"principal": "3000.00", "interest": "300.00", "penalty": "300.00", "costs": "50.00"}}
    r = client.post(f"/api/v1/legal-cases/{lc['id']}/judgment", headers=h["legal"], json=judgment)
    assert r.status_code == 422 and r.json()["rule"] == "legal.judgment_cap.financial_loan_total_cost_cap"
    judgment["award"].update(interest="100.00", penalty="50.00")
    r = client.post(f"/api/v1/legal-cases/{lc['id']}/judgment", headers=h["legal"], json=judgment)
    assert r.status_code == 200, r.text
    assert r.json()["awarded"]["interest"] == 10_000 and {d["kind"] for d in r.json()["deadlines"]} == {
        "appeal", "enforcement_application"}

    assert client.get(f"/api/v1/legal-cases/{lc['id']}", headers=h["compliance"]).status_code == 200
    assert client.get(f"/api/v1/cases/{case}/evidence-bundle", headers=h["compliance"]).status_code == 403
    r = client.get(f"/api/v1/cases/{case}/evidence-bundle", headers=h["legal"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert verify_bundle(r.content) == []
    with db.session() as s:
        built = s.scalars(select(Event).where(Event.action == "legal.evidence_bundle_built")).one()
        assert built.actor == "api-legal"
        assert built.after["manifest_sha256"] == r.headers["X-Manifest-SHA256"]
