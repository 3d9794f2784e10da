"""Signing the agreement with the one-time code: the PDF to read, consent, the code; a wrong code and missing
consent named next to their fields (the wrong try counted); the right code signs; nobody else's agreement."""

from __future__ import annotations

import re

from sqlalchemy import select

from arrears.agreements import service, signing
from arrears.agreements.tables import Agreement, SigningCode
from arrears.agreements.terms import plan_from_json
from arrears.auth.model import Principal, Role
from arrears.contact.tables import OutboxMessage
from arrears.money import format_yuan
from arrears.negotiation import rounds
from arrears.negotiation.accepted import accepted_offer
from conftest import NEGOTIATOR


def _agreement(portal, who: str = "mine") -> int:
    """A staff offer the borrower accepted, its agreement prepared and sent for signature (the services)."""
    offer_id = portal.staff_offer(who)
    with portal.db.session() as s:
        borrower = Principal(user_id=9100, username=f"borrower:{who}", display_name="", role=Role.borrower,
                             borrower_id=portal.ids[f"{who}_borrower"])
        offer = rounds.accept(s, borrower, offer_id)
        accepted = accepted_offer(s, offer.negotiation_id)
        a = service.create_agreement(s, plan=accepted.plan, loan_id=accepted.loan_id, prepared_by=NEGOTIATOR.actor,
                                     cipher=portal.cipher)
        signing.send_for_signature(s, agreement_id=a.id, actor=NEGOTIATOR.actor, cipher=portal.cipher)
        s.commit()
        return a.id


def _code(portal, agreement_id: int) -> str:
    with portal.db.session() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"agreement:{agreement_id}:code:%"))
                        .order_by(OutboxMessage.id.desc())).first()
        return re.search(r"\d{6}", portal.cipher.decrypt(msg.body_enc)).group(0)


def test_the_borrower_reads_and_signs_with_the_code(portal):
    aid = _agreement(portal)
    portal.sign_in()
    assert f"/portal/agreements/{aid}" in portal.get("/portal").text  # waiting for the signature
    page = portal.get(f"/portal/agreements/{aid}").text
    with portal.db.session() as s:
        plan = plan_from_json(s.get(Agreement, aid).terms_json)
    assert f"{format_yuan(plan.total_to_pay)} 元" in page and f"{len(plan.schedule)} 个月" in page
    assert format_yuan(plan.schedule[0].total) in page and plan.total_to_pay > 0
    assert "待您签署" in page and f"/portal/agreements/{aid}/document" in page and '<label for="consent">' in page
    pdf = portal.get(f"/portal/agreements/{aid}/document")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    r = portal.post(f"/portal/agreements/{aid}/sign", data={"code": _code(portal, aid), "consent": "yes"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "您已签署，待我行复核签署" in portal.get(f"/portal/agreements/{aid}").text
    with portal.db.session() as s:
        assert s.get(Agreement, aid).status == "borrower_signed"


def test_a_wrong_code_and_missing_consent_are_named_at_their_fields(portal):
    aid = _agreement(portal)
    portal.sign_in()
    code = _code(portal, aid)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    r = portal.post(f"/portal/agreements/{aid}/sign", data={"code": wrong, "consent": "yes"})
    assert r.status_code == 400 and 'id="code-error"' in r.text and "验证码不正确" in r.text
    assert "还可尝试 4 次" in r.text and "checked" in r.text
    with portal.db.session() as s:  # the wrong try is counted
        assert s.scalar(select(SigningCode.attempts).where(SigningCode.agreement_id == aid)) == 1
    r = portal.post(f"/portal/agreements/{aid}/sign", data={"code": code})
    assert r.status_code == 400 and 'id="consent-error"' in r.text and "请勾选，确认您同意协议条款" in r.text
    r = portal.post(f"/portal/agreements/{aid}/sign", data={"code": "", "consent": "yes"})
    assert r.status_code == 400 and "必填" in r.text
    with portal.db.session() as s:
        assert s.get(Agreement, aid).status == "sent_for_signature"


def test_an_expired_code_is_said_so(portal):
    aid = _agreement(portal)
    with portal.db.session() as s:
        row = s.scalar(select(SigningCode).where(SigningCode.agreement_id == aid))
        row.expires_at = row.created_at
        s.commit()
    portal.sign_in()
    r = portal.post(f"/portal/agreements/{aid}/sign", data={"code": _code(portal, aid), "consent": "yes"})
    assert r.status_code == 400 and "验证码已过期" in r.text


def test_another_borrowers_agreement_is_not_found(portal):
    theirs = _agreement(portal, "other")
    portal.sign_in()
    assert portal.get(f"/portal/agreements/{theirs}").status_code == 404
    assert portal.get(f"/portal/agreements/{theirs}/document").status_code == 404
    r = portal.post(f"/portal/agreements/{theirs}/sign", data={"code": _code(portal, theirs), "consent": "yes"})
    assert r.status_code == 404
    with portal.db.session() as s:
        assert s.get(Agreement, theirs).status == "sent_for_signature"
