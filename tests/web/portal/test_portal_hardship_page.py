"""Applying for hardship with evidence: figures, reason, consent and files typed by their bytes; errors next to
their fields with the typed values kept; an unsupported file refused clearly and nothing half-filed; the status
page; nobody else's loan or application."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from arrears.negotiation import hardship
from arrears.negotiation.affordability import Statement
from arrears.negotiation.tables import HardshipApplication, HardshipEvidence
from conftest import NEGOTIATOR, TODAY

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64
EXE = b"MZ\x90\x00" + b"\x00" * 64
FORM = {"hardship_kind": "job_loss", "hardship_since": "2026-04-01", "incomes.wages": "1,200.00",
        "expenses.housing": "800", "expenses.food": "900", "dependants": "1", "description": "工厂停工", "consent": "yes"}


def _count(portal, model) -> int:
    with portal.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_applying_with_files_shows_the_application_and_its_status(portal):
    portal.sign_in()
    form = portal.get(f"/portal/loans/{portal.ids['mine']}/hardship")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text and '<label for="file">' in form.text
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/hardship", data=FORM, follow_redirects=False,
                    files=[("files", ("证明.png", PNG, "image/png")), ("files", ("flow.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303, r.text
    page = portal.get(r.headers["location"]).text
    assert "已收到，审核中" in page and "失业或收入中断" in page and "2026年4月1日" in page
    assert "image/png" in page and "application/pdf" in page
    with portal.db.session() as s:
        app = s.scalar(select(HardshipApplication))
        assert app.loan_id == portal.ids["mine"] and app.filed_by_borrower and app.status == "submitted"
        assert s.scalar(select(func.count()).select_from(HardshipEvidence)) == 2


def test_an_unsupported_file_is_refused_next_to_the_field_and_nothing_is_filed(portal):
    portal.sign_in()
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/hardship", data=FORM,
                    files=[("files", ("photo.png", EXE, "image/png"))])  # named .png, but a program
    assert r.status_code == 400 and 'id="file-error"' in r.text and "不接受此类文件" in r.text
    assert 'value="1,200.00"' in r.text and "工厂停工" in r.text  # what was typed is kept
    assert _count(portal, HardshipApplication) == 0 and _count(portal, HardshipEvidence) == 0


def test_missing_consent_and_bad_figures_are_named_at_their_fields(portal):
    portal.sign_in()
    bad = {**FORM, "incomes.wages": "12.345", "hardship_since": "", "consent": ""}
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/hardship", data=bad)
    assert r.status_code == 400
    for field in ("incomes-wages", "hardship_since", "consent"):
        assert f'id="{field}-error"' in r.text, field
    assert "请勾选同意" in r.text and 'value="12.345"' in r.text
    future = portal.post(f"/portal/loans/{portal.ids['mine']}/hardship", data={**FORM, "hardship_since": "2027-01-01"})
    assert future.status_code == 400 and "日期不能晚于今天" in future.text  # the service's rule, by the field
    assert _count(portal, HardshipApplication) == 0


def test_evidence_can_be_added_while_submitted_and_is_type_checked(portal):
    portal.sign_in()
    r = portal.post(f"/portal/loans/{portal.ids['mine']}/hardship", data=FORM, follow_redirects=False)
    url = r.headers["location"]
    assert portal.post(f"{url}/evidence", files=[("files", ("a.png", PNG, "image/png"))],
                       follow_redirects=False).status_code == 303
    refused = portal.post(f"{url}/evidence", files=[("files", ("a.txt", b"hello", "text/plain"))])
    assert refused.status_code == 400 and "不接受此类文件" in refused.text
    assert _count(portal, HardshipEvidence) == 1


def test_another_borrowers_loan_and_application_are_not_found(portal):
    with portal.db.session() as s:  # staff file one for the other borrower
        theirs = hardship.file_application(
            s, portal.cipher, NEGOTIATOR, loan_id=portal.ids["other"],
            statement=Statement(incomes={"wages": 100_000}, expenses={}), hardship_kind="illness",
            hardship_since=date(2026, 5, 1), description="", consent=True, today=TODAY)
        s.commit()
        other_app = theirs.id
    portal.sign_in()
    assert portal.get(f"/portal/loans/{portal.ids['other']}/hardship").status_code == 404
    assert portal.post(f"/portal/loans/{portal.ids['other']}/hardship", data=FORM).status_code == 404
    assert portal.get(f"/portal/hardship/{other_app}").status_code == 404
    r = portal.post(f"/portal/hardship/{other_app}/evidence", files=[("files", ("a.png", PNG, "image/png"))])
    assert r.status_code == 404 and _count(portal, HardshipEvidence) == 0
