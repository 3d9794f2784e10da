"""Complaints: filing with category, channel and SLA from policy, the open → in_progress → resolved/rejected
flow under versions, encrypted words, the contact freeze while open, and statistics; both backends."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.auth import service as auth
from arrears.cases.flags import borrower_flags
from arrears.cases.policy import policy
from arrears.complaints.service import close_complaint, complaint_stats, file_complaint, take_on
from arrears.errors import Conflict, InvalidInput, NotFound
from support import CIPHER, PASSWORD, add_borrower, add_small_loan
from datetime import datetime, timezone

FILED = datetime(2026, 3, 10, 17, 0, tzinfo=timezone.utc)  # 01:00 on 03-11 in Shanghai


@pytest.fixture
def world(db, monkeypatch):
    from argon2 import PasswordHasher
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with db.session() as s:
        b = add_borrower(s)
        other = add_borrower(s, "B2", id_number="110101199003070002")
        loan = add_small_loan(s, other, "L2")
        user = auth.create_user(s, username="comp1", display_name="c", password=PASSWORD, role="compliance",
                                actor="t")
        s.commit()
        return {"db": db, "b": b.id, "other_loan": loan.id, "user": user.id}


def _file(s, w, **kw):
    args = {"cipher": CIPHER, "borrower_id": w["b"], "category": "harassment", "channel": "portal",
            "text": "每天晚上十点后还打电话", "filed_at": FILED, "actor": "b1"}
    return file_complaint(s, **{**args, **kw})


def test_filing_sets_the_sla_from_policy_encrypts_and_freezes_contact(world):
    with world["db"].session() as s:
        c = _file(s, world)
        days = policy().complaints.category("harassment").sla_days
        assert c.sla_due_on == date(2026, 3, 11) + timedelta(days=days)  # from the Shanghai date of filing
        assert c.status == "open" and "十点".encode() not in c.text_enc
        assert CIPHER.decrypt(c.text_enc) == "每天晚上十点后还打电话"
        assert borrower_flags(s, world["b"]).open_complaint
        credit = _file(s, world, category="credit_report")
        assert credit.sla_due_on == date(2026, 3, 11) + timedelta(days=policy().complaints.category("credit_report").sla_days)
        event = s.scalars(select(Event).where(Event.action == "complaint.filed")).first()
        assert "十点" not in str(event.after)


@pytest.mark.parametrize("kw, rule", [({"category": "noise"}, "complaint.category"),
                                      ({"channel": "pigeon"}, "complaint.channel"),
                                      ({"text": "  "}, "complaint.text_required"),
                                      ({"text": "x" * 4001}, "complaint.text_length")])
def test_bad_complaints_are_refused_naming_the_rule(world, kw, rule):
    with world["db"].session() as s:
        with pytest.raises(InvalidInput) as exc:
            _file(s, world, **kw)
        assert exc.value.rule == rule


def test_a_loan_of_someone_else_or_an_unknown_borrower_is_refused(world):
    with world["db"].session() as s:
        with pytest.raises(InvalidInput) as exc:
            _file(s, world, loan_id=world["other_loan"])
        assert exc.value.rule == "complaint.of_borrower"
        with pytest.raises(NotFound):
            _file(s, world, borrower_id=99999)


def test_flow_versions_resolution_and_the_freeze_lifting(world):
    with world["db"].session() as s:
        c = _file(s, world)
        take_on(s, complaint_id=c.id, assignee_user_id=world["user"], expected_version=1, actor="sup")
        assert (c.status, c.version) == ("in_progress", 2)
        with pytest.raises(Conflict) as exc:
            close_complaint(s, cipher=CIPHER, complaint_id=c.id, status="resolved", resolution="r",
                            expected_version=1, actor="sup", at=FILED)
        assert exc.value.rule == "complaint.version"
        assert borrower_flags(s, world["b"]).open_complaint
        close_complaint(s, cipher=CIPHER, complaint_id=c.id, status="resolved", resolution="已核实并向借款人致歉",
                        expected_version=2, actor="sup", at=FILED + timedelta(days=3))
        assert c.status == "resolved" and CIPHER.decrypt(c.resolution_enc) == "已核实并向借款人致歉"
        assert not borrower_flags(s, world["b"]).open_complaint
        with pytest.raises(Conflict) as exc:
            take_on(s, complaint_id=c.id, assignee_user_id=world["user"], expected_version=3, actor="sup")
        assert exc.value.rule == "complaint.open"
        with pytest.raises(InvalidInput):
            close_complaint(s, cipher=CIPHER, complaint_id=c.id, status="open", resolution="r",
                            expected_version=3, actor="sup", at=FILED)


def test_statistics(world):
    with world["db"].session() as s:
        done = [_file(s, world, category=cat) for cat in ("harassment", "harassment", "privacy", "service")]
        for c, days, status in zip(done, (1, 4, 10), ("resolved", "rejected", "resolved")):
            close_complaint(s, cipher=CIPHER, complaint_id=c.id, status=status, resolution="r", actor="x",
                            expected_version=c.version, at=FILED + timedelta(days=days))
        stats = complaint_stats(s, date(2026, 4, 30))
        assert stats["by_category"] == {"harassment": 2, "privacy": 1, "service": 1}
        assert stats["by_status"] == {"resolved": 2, "rejected": 1, "open": 1}
        assert stats["open_past_sla"] == 1 and complaint_stats(s, date(2026, 3, 12))["open_past_sla"] == 0
        assert str(stats["median_days_to_resolve"]) == "4"
        close_complaint(s, cipher=CIPHER, complaint_id=done[3].id, status="resolved", resolution="r", actor="x",
                        expected_version=done[3].version, at=FILED + timedelta(days=7))
        assert str(complaint_stats(s, date(2026, 4, 30))["median_days_to_resolve"]) == "5.5"
