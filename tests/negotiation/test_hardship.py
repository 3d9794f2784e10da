"""Hardship applications on both backends: own loans only, consent, encrypted figures, evidence checked by
content, verification by someone else with the version, audit events without personal figures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.auth.model import Role
from arrears.errors import Conflict, InvalidInput, NotFound
from arrears.files.store import FileStore
from arrears.negotiation import hardship
from arrears.negotiation.affordability import Statement
from arrears.negotiation.tables import HardshipApplication, HardshipEvidence
from helpers import PDF, TODAY, add_wang_loan, principal, wang_statement
from support import CIPHER, add_borrower, add_small_loan

NEGO = principal(Role.negotiator, "nego1")


@pytest.fixture
def world(db):
    with db.session() as s:
        b, loan = add_wang_loan(s)
        other = add_small_loan(s, add_borrower(s, "B-OTHER", phone="13700000000", id_number="110101199001011111"),
                               "L-OTHER")
        s.commit()
        return {"loan": loan.id, "other": other.id, "me": principal(Role.borrower, "xiaowang", b.id, uid=9)}


def _file(s, who, loan_id, **kw):
    args = dict(loan_id=loan_id, statement=wang_statement(), hardship_kind="job_loss",
                hardship_since=date(2025, 12, 15), description="公司裁员，正在找工作", consent=True, today=TODAY)
    return hardship.file_application(s, CIPHER, who, **{**args, **kw})


def test_a_borrower_files_for_their_own_loan_and_the_figures_are_stored_encrypted(db, world):
    with db.session() as s:
        app = _file(s, world["me"], world["loan"])
        s.commit()
        assert app.status == "submitted" and app.filed_by_borrower and app.version == 1
        assert b"part_time" not in app.statement_enc and "裁员".encode() not in app.statement_enc
        statement, text = hardship.statement_of(app, CIPHER)
        assert statement == wang_statement() and text == "公司裁员，正在找工作"
        event = s.scalars(select(Event).where(Event.subject_type == "hardship_application")).one()
        assert event.action == "hardship.filed" and "300000" not in str(event.after)
        with pytest.raises(NotFound):  # someone else's loan: as if it did not exist
            _file(s, world["me"], world["other"])


@pytest.mark.parametrize("kw, field, rule", [
    ({"consent": False}, "consent", "hardship.consent_required"),
    ({"hardship_kind": "boredom"}, "hardship_kind", "hardship.kind"),
    ({"hardship_since": date(2026, 4, 1)}, "hardship_since", "hardship.since_not_future"),
    ({"statement": Statement({"wages": -100}, {})}, "incomes.wages", "non_negative"),
    ({"statement": Statement({"wages": 10**14}, {})}, "incomes.wages", "affordability.absurd_amount"),
])
def test_bad_applications_are_refused_and_nothing_is_written(db, world, kw, field, rule):
    with db.session() as s:
        with pytest.raises(InvalidInput) as err:
            _file(s, NEGO, world["loan"], **kw)
        assert (err.value.field, err.value.rule) == (field, rule)
        s.rollback()
        assert s.query(HardshipApplication).count() == 0 and s.query(Event).filter_by(
            subject_type="hardship_application").count() == 0


def test_evidence_is_checked_by_content_stored_once_and_verification_is_by_someone_else(db, world, tmp_path):
    store = FileStore(tmp_path)
    with db.session() as s:
        app = _file(s, world["me"], world["loan"])
        ev = hardship.add_evidence(s, store, CIPHER, world["me"], application_id=app.id, data=PDF,
                                   filename="解除劳动合同通知书.pdf")
        again = hardship.add_evidence(s, store, CIPHER, NEGO, application_id=app.id, data=PDF, filename="copy.pdf")
        assert again.id == ev.id and store.get(ev.sha256) == PDF and ev.media_type == "application/pdf"
        with pytest.raises(InvalidInput) as err:
            hardship.add_evidence(s, store, CIPHER, world["me"], application_id=app.id,
                                  data=b"MZ\x90 not really a pdf", filename="proof.pdf")
        assert err.value.rule == "file.type"
        assert CIPHER.decrypt(ev.name_enc) == "解除劳动合同通知书.pdf"
        s.commit()
        with pytest.raises(Conflict) as err:  # the filer cannot verify their own application
            hardship.review_application(s, CIPHER, world["me"], application_id=app.id, decision="verified",
                                        note="", version=app.version)
        assert err.value.rule == "hardship.maker_checker"
        with pytest.raises(Conflict) as err:
            hardship.review_application(s, CIPHER, NEGO, application_id=app.id, decision="verified", note="",
                                        version=app.version + 1)
        assert err.value.rule == "stale_version"
        reviewed = hardship.review_application(s, CIPHER, NEGO, application_id=app.id, decision="verified",
                                               note="材料齐全", version=app.version)
        s.commit()
        assert (reviewed.status, reviewed.reviewed_by, reviewed.version) == ("verified", "nego1", 2)
        with pytest.raises(Conflict):
            hardship.review_application(s, CIPHER, principal(Role.supervisor, "sup1"), application_id=app.id,
                                        decision="rejected", note="", version=2)
        with pytest.raises(Conflict):  # no more evidence once decided
            hardship.add_evidence(s, store, CIPHER, world["me"], application_id=app.id, data=PDF + b" ",
                                  filename="late.pdf")
        actions = [e.action for e in s.scalars(select(Event).where(Event.subject_type == "hardship_application")
                                               .order_by(Event.seq))]
        assert actions == ["hardship.filed", "hardship.evidence_added", "hardship.verified"]
        assert s.query(HardshipEvidence).count() == 1


def test_the_latest_application_not_rejected_gives_the_assessment(db, world):
    with db.session() as s:
        assert hardship.latest_assessment(s, CIPHER, world["loan"]) == (None, None)
        app = _file(s, NEGO, world["loan"])
        found, a = hardship.latest_assessment(s, CIPHER, world["loan"])
        assert found.id == app.id and a.income_fen == 480_000 and a.disposable_fen == 480_000 - 305_000
        with pytest.raises(NotFound):
            hardship.latest_assessment(s, CIPHER, world["loan"], application_id=app.id + 100)
