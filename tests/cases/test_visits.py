"""Field visits: two collectors where the profile asks, the guard at the planned time, the report with recording,
evidence from the content-addressed store and community-committee involvement; both backends."""

import hashlib

import pytest
from sqlalchemy import select

from arrears.auth import service as auth
from arrears.cases.evidence import EvidenceStore
from arrears.cases.tables import ContactLog
from arrears.cases.visits import cancel_visit, report_visit, schedule_visit
from arrears.errors import Conflict, InvalidInput, NotFound
from case_helpers import ADDRESS, add_case, utc
from support import CIPHER, PASSWORD

JPEG = b"\xff\xd8\xff\xe0" + b"photo of the door" * 10
PDF = b"%PDF-1.7 signed visit form"


@pytest.fixture
def world(db, tmp_path, monkeypatch):
    from argon2 import PasswordHasher
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with db.session() as s:
        case = add_case(s)
        a, b = (auth.create_user(s, username=u, display_name=u, password=PASSWORD, role="collector", actor="t")
                for u in ("col1", "col2"))
        s.commit()
        yield {"db": db, "case": case.id, "a": a.id, "b": b.id, "store": EvidenceStore(tmp_path / "files")}


def _schedule(s, w, **kw):
    args = {"cipher": CIPHER, "case_id": w["case"], "planned_at": utc(2026, 3, 12, 2), "address_type": "home",
            "collector_user_id": w["a"], "second_collector_user_id": w["b"], "actor": "c1", "address": ADDRESS}
    return schedule_visit(s, **{**args, **kw})


def test_a_cn_bank_visit_needs_two_different_collectors(world):
    with world["db"].session() as s:
        for second in (None, world["a"]):
            with pytest.raises(InvalidInput) as exc:
                _schedule(s, world, second_collector_user_id=second)
            assert exc.value.rule == "visit.two_collectors"
        with pytest.raises(NotFound):
            _schedule(s, world, second_collector_user_id=999)
        with pytest.raises(InvalidInput) as exc:
            _schedule(s, world, address="别处")
        assert exc.value.rule == "contact.recipient_not_of_case"


def test_a_visit_in_quiet_hours_is_refused_logged_and_not_scheduled(world):
    with world["db"].session() as s:
        result = _schedule(s, world, planned_at=utc(2026, 3, 12, 15))  # 23:00 local
        assert result.visit is None and result.contact.decision.rule == "quiet_hours"
        rows = s.scalars(select(ContactLog)).all()
        assert [(r.method, r.allowed, r.refused_rule) for r in rows] == [("visit", False, "quiet_hours")]


def test_a_visit_is_reported_with_recording_evidence_and_committee(world):
    store = world["store"]
    photo, form = store.put(JPEG, "image/jpeg"), store.put(PDF)
    assert photo.sha256 == hashlib.sha256(JPEG).hexdigest() and store.put(JPEG).sha256 == photo.sha256
    assert (store.root / photo.sha256[:2] / photo.sha256).read_bytes() == JPEG
    for data, declared, rule in ((b"MZ\x90\x00 an exe", None, "evidence.type"), (JPEG, "image/png", "evidence.type_mismatch"),
                                 (b"", None, "evidence.empty")):
        with pytest.raises(InvalidInput) as exc:
            store.put(data, declared)
        assert exc.value.rule == rule
    with world["db"].session() as s:
        visit = _schedule(s, world).visit
        assert visit.status == "scheduled"
        kw = {"cipher": CIPHER, "store": store, "visit_id": visit.id, "outcome": "hardship_stated",
              "report": "借款人因病失业,村委会主任在场", "recording_ref": "rec://visit/1", "actor": "c1",
              "expected_version": visit.version, "at": utc(2026, 3, 12, 3)}
        with pytest.raises(InvalidInput) as exc:
            report_visit(s, **kw, committee_involved=True)
        assert exc.value.rule == "visit.committee_name"
        with pytest.raises(InvalidInput) as exc:
            report_visit(s, **{**kw, "recording_ref": ""})
        assert exc.value.rule == "visit.recording_required"
        with pytest.raises(NotFound):
            report_visit(s, **kw, evidence=["0" * 64])
        done = report_visit(s, **kw, evidence=[photo.sha256, form.sha256, photo.sha256], committee_involved=True,
                            committee_name="石门村村民委员会")
        s.commit()
        assert (done.status, done.outcome, done.committee_name) == ("reported", "hardship", "石门村村民委员会")
        assert [f["sha256"] for f in done.evidence] == [photo.sha256, form.sha256]
        assert [f["type"] for f in done.evidence] == ["image/jpeg", "application/pdf"]
        assert CIPHER.decrypt(done.report_enc).startswith("借款人因病失业")
        contact = s.get(ContactLog, done.contact_id)
        assert (contact.outcome, contact.recording_ref) == ("hardship", "rec://visit/1")
        with pytest.raises(Conflict):
            cancel_visit(s, visit_id=done.id, reason="x", actor="c1", expected_version=done.version)
