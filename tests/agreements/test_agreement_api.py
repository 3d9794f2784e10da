"""The agreement API: a borrower reads and signs only their own agreement (a wrong code is a 422 that still
counts), staff send and countersign under maker-checker, a stale version is a 409, PDFs are served."""

import io
import re

import pypdf
import pytest
from agreement_helpers import PLAN_DATE, debt_of, make_plan, overdue_loan
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from arrears.agreements import service
from arrears.agreements.tables import SigningCode
from arrears.auth import service as auth
from arrears.auth.tables import User
from arrears.contact.tables import OutboxMessage
from arrears.privacy import PersonalDataCipher
from arrears.settings import Settings
from arrears.web.app import create_app


@pytest.fixture
def world(db, store, tmp_path, secret_key, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("ARREARS_BUSINESS_DATE", PLAN_DATE.isoformat())
    cipher = PersonalDataCipher(secret_key)
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory, cipher=cipher, name="王小明")
        other_bid, _ = overdue_loan(s, store, db.factory, no="L2", borrower_no="B2", cipher=cipher)
        for name, role, borrower in (("negotiator1", "negotiator", None), ("supervisor1", "supervisor", None),
                                     ("borrower1", "borrower", bid), ("borrower2", "borrower", other_bid)):
            auth.create_user(s, username=name, display_name=name, password="correct horse battery", role=role,
                             actor="setup", borrower_id=borrower)
        a = service.create_agreement(s, plan=make_plan(debt_of(s, lid), lid), loan_id=lid,
                                     prepared_by="negotiator1", cipher=cipher)
        s.commit()
        tokens = {u.username: auth.issue_token(s, u).token for u in s.scalars(select(User))}
        s.commit()
    app = create_app(Settings(data_dir=tmp_path, database_url=db.url, secret_key=secret_key))
    with TestClient(app) as client:
        yield client, {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}, a.id, cipher


def test_borrower_signs_their_own_agreement_through_the_api(world, db):
    client, h, aid, cipher = world
    url = f"/api/v1/agreements/{aid}"
    assert client.get(url, headers=h["borrower2"]).status_code == 404  # not theirs: it does not exist for them
    doc = client.get(f"{url}/document", headers=h["borrower1"])
    assert doc.status_code == 200 and "还款协议" in pypdf.PdfReader(io.BytesIO(doc.content)).pages[0].extract_text()
    assert client.post(f"{url}/send", headers=h["borrower1"]).status_code == 403
    assert client.post(f"{url}/send", headers=h["negotiator1"]).json()["status"] == "sent_for_signature"
    with db.session() as s:
        msg = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        code = re.search(r"\d{6}", cipher.decrypt(msg.body_enc)).group(0)
    wrong = "1" * 6 if code != "1" * 6 else "2" * 6
    r = client.post(f"{url}/sign", headers=h["borrower1"], json={"code": wrong, "consent": True})
    assert r.status_code == 422 and r.json()["rule"] == "signing.code_wrong"
    with db.session() as s:  # the failed attempt was committed
        assert s.scalar(select(SigningCode.attempts).where(SigningCode.agreement_id == aid)) == 1
    assert client.post(f"{url}/sign", headers=h["borrower2"], json={"code": code, "consent": True}).status_code == 404
    assert client.post(f"{url}/sign", headers=h["supervisor1"], json={"code": code, "consent": True}).status_code == 404
    r = client.post(f"{url}/sign", headers=h["borrower1"], json={"code": code, "consent": False})
    assert r.status_code == 422 and r.json()["rule"] == "agreement.consent"
    signed = client.post(f"{url}/sign", headers=h["borrower1"], json={"code": code, "consent": True})
    assert signed.status_code == 200 and signed.json()["status"] == "borrower_signed"
    version = signed.json()["version"]
    assert client.post(f"{url}/countersign", headers=h["negotiator1"], json={"version": version}).status_code == 403
    stale = client.post(f"{url}/countersign", headers=h["supervisor1"], json={"version": version - 1})
    assert stale.status_code == 409
    done = client.post(f"{url}/countersign", headers=h["supervisor1"], json={"version": version})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "countersigned" and body["executed_on"] == PLAN_DATE.isoformat()
    assert body["terms"]["waiver"]["penalty"] > 0 and len(body["document_sha256"]) == 64
    listed = client.get("/api/v1/agreements", headers=h["borrower2"]).json()
    assert listed == []
    assert client.get(f"{url}/certificate", headers=h["borrower1"]).status_code == 404  # not completed yet
