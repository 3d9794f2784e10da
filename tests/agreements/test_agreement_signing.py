"""Signing: the document's Chinese text, the one-time code (digest only, expiry, attempt limit), consent, own
agreement only, maker-checker on countersigning, oral agreements with a recording, one live agreement per loan."""

import io
from datetime import timedelta

import pypdf
import pytest
from agreement_helpers import CHECKER, PREPARER, debt_of, last_code, make_plan, overdue_loan
from sqlalchemy import select
from support import CIPHER, add_borrower, add_loan

from arrears.agreements import documents, service, signing
from arrears.agreements.policy import policy
from arrears.agreements.tables import Agreement, SigningCode
from arrears.db.base import utcnow
from arrears.errors import Conflict, Forbidden, InvalidInput, NotFound
from arrears.loans.payments import post_payment
from arrears.money import format_yuan
from arrears.products.catalog import catalog


def _draft(s, store, factory, **kw):
    bid, lid = overdue_loan(s, store, factory, name="王小明")
    plan = make_plan(debt_of(s, lid), lid, **kw)
    a = service.create_agreement(s, plan=plan, loan_id=lid, prepared_by=PREPARER, cipher=CIPHER)
    s.commit()
    return bid, lid, plan, a


def _text(pdf: bytes) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_document_is_chinese_text_a_reader_extracts(db, store):
    with db.session() as s:
        _, _, plan, a = _draft(s, store, db.factory)
        text = _text(documents.get(s, a.document_sha256))
    flat = text.replace("\n", "")
    for phrase in ("还款协议", "甲方", "乙方", "王小明", "违约条款", "争议解决", "减免"):
        assert phrase in flat, phrase
    assert "110101199003071234" not in flat  # the identity number is masked
    for i in plan.schedule:  # the full schedule with its amounts
        assert f"{i.due_on.isoformat()}" in text and format_yuan(i.total) in text
    assert format_yuan(plan.debt.penalty) in text and str(policy().default_clause.days_late) in text


def test_the_english_document_says_the_same(db, store):
    with db.session() as s:
        bid, lid = overdue_loan(s, store, db.factory, name="王小明")
        plan = make_plan(debt_of(s, lid), lid)
        a = service.create_agreement(s, plan=plan, loan_id=lid, prepared_by=PREPARER, cipher=CIPHER, language="en")
        text = _text(documents.get(s, a.document_sha256)).replace("\n", " ")
    for phrase in ("Repayment Agreement", "Party B", "王小明", "Default", "Disputes", format_yuan(plan.total_to_pay)):
        assert phrase in text, phrase


def test_happy_path_code_is_stored_as_digest_and_signs_once(db, store):
    with db.session() as s:
        bid, _, _, a = _draft(s, store, db.factory)
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        s.commit()
        code = last_code(s, a.id)
        row = s.scalar(select(SigningCode).where(SigningCode.agreement_id == a.id))
        assert code not in row.code_digest and len(row.code_digest) == 64
        out = signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=code, consent=True, cipher=CIPHER)
        assert out.signed and s.get(Agreement, a.id).status == "borrower_signed"
        with pytest.raises(Conflict):  # signed already: the code cannot be used again
            signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=code, consent=True, cipher=CIPHER)


def test_wrong_expired_and_exhausted_codes_do_not_sign(db, store):
    limit = policy().signing.code_max_attempts
    with db.session() as s:
        bid, _, _, a = _draft(s, store, db.factory)
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        s.commit()
        code = last_code(s, a.id)
        wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
        for k in range(limit):
            out = signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=wrong, consent=True, cipher=CIPHER)
            assert (out.signed, out.rule, out.attempts_left) == (False, "signing.code_wrong", limit - k - 1)
            s.commit()  # each failed attempt is counted and kept
        out = signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=code, consent=True, cipher=CIPHER)
        assert (out.signed, out.rule) == (False, "signing.attempts_exhausted")
        # A new code; used after it expires it does not sign either.
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        s.commit()
        later = utcnow() + timedelta(minutes=policy().signing.code_valid_minutes, seconds=1)
        out = signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=last_code(s, a.id), consent=True,
                                    cipher=CIPHER, now=later)
        assert (out.signed, out.rule) == (False, "signing.code_expired")
        assert s.get(Agreement, a.id).status == "sent_for_signature"


def test_consent_and_own_agreement_and_maker_checker(db, store):
    with db.session() as s:
        bid, _, _, a = _draft(s, store, db.factory)
        signing.send_for_signature(s, agreement_id=a.id, actor=PREPARER, cipher=CIPHER)
        code = last_code(s, a.id)
        with pytest.raises(InvalidInput) as err:
            signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=code, consent=False, cipher=CIPHER)
        assert err.value.rule == "agreement.consent"
        with pytest.raises(NotFound):  # another borrower cannot see, let alone sign, it
            signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid + 999, code=code, consent=True, cipher=CIPHER)
        assert signing.borrower_sign(s, agreement_id=a.id, borrower_id=bid, code=code, consent=True,
                                     cipher=CIPHER).signed
        with pytest.raises(Forbidden) as err:
            service.countersign(s, agreement_id=a.id, officer=PREPARER, business_date=a.as_of)
        assert err.value.rule == "agreement.maker_checker"
        done = service.countersign(s, agreement_id=a.id, officer=CHECKER, business_date=a.as_of)
        assert done.status == "countersigned"


def test_one_live_agreement_per_loan_and_a_stale_plan_is_refused(db, store):
    with db.session() as s:
        _, lid, plan, a = _draft(s, store, db.factory)
        with pytest.raises(Conflict) as err:
            service.create_agreement(s, plan=plan, loan_id=lid, prepared_by=PREPARER, cipher=CIPHER)
        assert err.value.rule == "agreement.one_live"
        service.terminate(s, agreement_id=a.id, actor=PREPARER, reason="borrower withdrew", business_date=a.as_of)
        stale = make_plan(debt_of(s, lid), lid)
        b = service.create_agreement(s, plan=stale, loan_id=lid, prepared_by=PREPARER, cipher=CIPHER)
        signing.send_for_signature(s, agreement_id=b.id, actor=PREPARER, cipher=CIPHER)
        signing.borrower_sign(s, agreement_id=b.id, borrower_id=b.borrower_id, code=last_code(s, b.id), consent=True,
                              cipher=CIPHER)
        post_payment(s, loan_id=lid, amount_fen=1_000, received_on=a.as_of, idempotency_key="between",
                     actor="t", today=a.as_of)
        with pytest.raises(Conflict) as err:  # paid since the plan date: the plan no longer restates the debt
            service.countersign(s, agreement_id=b.id, officer=CHECKER, business_date=a.as_of)
        assert err.value.rule == "agreement.debt_changed"


def test_oral_agreements_only_for_cards_and_only_with_a_recording(db, store):
    with db.session() as s:
        _, _, _, a = _draft(s, store, db.factory)
        with pytest.raises(Conflict):
            signing.record_oral_agreement(s, agreement_id=a.id, officer=PREPARER, call_recording_ref="REC-1")
        with pytest.raises(InvalidInput) as err:  # a consumer loan: written agreements only
            service.create_agreement(s, plan=make_plan(debt_of(s, a.loan_id), a.loan_id), loan_id=a.loan_id,
                                     prepared_by=PREPARER, cipher=CIPHER, signing_method="oral")
        assert err.value.rule in ("agreement.oral_not_allowed", "agreement.one_live")
        card_product = catalog().product("credit_card")
        b = add_borrower(s, "B-CARD", phone="13900000000")
        card = add_loan(s, b, "C1", product_code="credit_card", method=card_product.repayment_methods[0])
        plan = make_plan(debt_of(s, card.id), card.id)
        oral = service.create_agreement(s, plan=plan, loan_id=card.id, prepared_by=PREPARER, cipher=CIPHER,
                                        signing_method="oral")
        with pytest.raises(InvalidInput) as err:
            signing.record_oral_agreement(s, agreement_id=oral.id, officer=PREPARER, call_recording_ref="  ")
        assert err.value.rule == "agreement.recording_required"
        with pytest.raises(Conflict):  # no code for an oral agreement
            signing.send_for_signature(s, agreement_id=oral.id, actor=PREPARER, cipher=CIPHER)
        signing.record_oral_agreement(s, agreement_id=oral.id, officer=PREPARER, call_recording_ref="REC-2026-0001")
        done = service.countersign(s, agreement_id=oral.id, officer=CHECKER, business_date=plan.as_of)
        assert done.stops_collection and service.collection_stopped_borrowers(s) == {b.id}
