"""The contact log through the compliance guard with the borrower's real history and flags, on both backends."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.cases.contacts import contact_history, record_outcome, request_contact
from arrears.cases.flags import set_collection_stopped, set_do_not_contact
from arrears.cases.tables import ContactLog
from arrears.cases.third_parties import register_third_party
from arrears.complaints.tables import Complaint
from arrears.contact.tables import OutboxMessage
from arrears.errors import Conflict, InvalidInput
from case_helpers import ADDRESS, PHONE, add_case, utc
from support import CIPHER

NOON = utc(2026, 3, 10, 4)  # 12:00 in Asia/Shanghai


def _contact(s, case, **kw):
    args = {"cipher": CIPHER, "case_id": case.id, "method": "call", "party": "debtor", "purpose": "collect",
            "at": NOON, "actor": "collector1"}
    return request_contact(s, **{**args, **kw})


def _logged(s, case):
    return s.scalars(select(ContactLog).where(ContactLog.case_id == case.id).order_by(ContactLog.id)).all()


def test_an_allowed_call_is_logged_with_its_outcome_encrypted_note_and_recording(db):
    with db.session() as s:
        case = add_case(s)
        result = _contact(s, case, to=PHONE, outcome="right_party", note="借款人说月底发工资",
                          recording_ref="rec://2026/03/10/1.mp3")
        s.commit()
        row = _logged(s, case)[0]
        assert result.decision.allowed and row.allowed and row.refused_rule is None
        assert (row.outcome, row.recording_ref) == ("connected", "rec://2026/03/10/1.mp3")
        assert "月底".encode() not in row.note_enc and CIPHER.decrypt(row.note_enc) == "借款人说月底发工资"
        actions = [e.action for e in s.scalars(select(Event).where(Event.subject_type == "case"))]
        assert actions == ["contact.logged", "contact.outcome"]
        with pytest.raises(Conflict) as exc:
            record_outcome(s, cipher=CIPHER, contact_id=row.id, outcome="no_answer", actor="c")
        assert exc.value.rule == "contact.outcome_recorded"


def test_quiet_hours_refuse_with_the_rule_and_the_next_allowed_time_and_the_refusal_is_logged(db):
    with db.session() as s:
        case = add_case(s)
        late = utc(2026, 3, 10, 14, 30)  # 22:30 local
        result = _contact(s, case, at=late, outcome="no_answer")
        s.commit()
        assert not result.decision.allowed and result.decision.rule == "quiet_hours"
        assert result.decision.next_allowed_at == utc(2026, 3, 11, 0)  # 08:00 local
        row = _logged(s, case)[0]
        assert (row.allowed, row.refused_rule, row.outcome) == (False, "quiet_hours", None)
        with pytest.raises(Conflict):
            record_outcome(s, cipher=CIPHER, contact_id=row.id, outcome="no_answer", actor="c")


def test_an_open_complaint_freezes_collection_but_not_the_complaint_response(db):
    with db.session() as s:
        case = add_case(s)
        s.add(Complaint(borrower_id=case.borrower_id, channel="portal", category="harassment", status="in_progress",
                        text_enc=CIPHER.encrypt("x"), filed_at=NOON, sla_due_on=date(2026, 3, 25)))
        s.flush()
        assert _contact(s, case).decision.rule == "open_complaint"
        assert _contact(s, case, purpose="complaint_response").decision.allowed


@pytest.mark.parametrize("flag, rule", [("do_not_contact", "do_not_contact"),
                                        ("collection_stopped", "collection_stopped")])
def test_flags_set_in_the_database_refuse_contact(db, flag, rule):
    with db.session() as s:
        case = add_case(s)
        setter = set_do_not_contact if flag == "do_not_contact" else set_collection_stopped
        setter(s, borrower_id=case.borrower_id, on=True, reason="借款人书面申请", actor="sup")
        assert _contact(s, case).decision.rule == rule
        setter(s, borrower_id=case.borrower_id, on=False, reason="解除", actor="sup")
        assert _contact(s, case).decision.allowed


def test_the_daily_cap_counts_logged_calls_and_sent_outbox_messages(db):
    with db.session() as s:
        case = add_case(s)
        for k in range(6):
            assert _contact(s, case, at=NOON + timedelta(minutes=k), outcome="no_answer").decision.allowed
        refused = _contact(s, case, at=NOON + timedelta(minutes=7))
        assert refused.decision.rule == "daily_cap.unanswered_per_method"
        assert refused.decision.next_allowed_at == utc(2026, 3, 11, 0)
        for k in range(6):  # six SMS the worker delivered today
            s.add(OutboxMessage(borrower_id=case.borrower_id, loan_id=case.loan_id, channel="sms", template="t",
                                language="zh-CN", purpose="remind", subject_enc=b"", body_enc=b"",
                                borrower_tz="Asia/Shanghai", status="sent", attempts=1, next_attempt_at=NOON,
                                dedupe_key=f"k{k}", request_digest="d", sent_at=NOON - timedelta(hours=1)))
        s.flush()
        assert len(contact_history(s, case.borrower_id)) == 12  # the refused call is not an attempt
        assert _contact(s, case, method="sms").decision.rule == "daily_cap.unanswered_per_method"
        assert _contact(s, case, method="email").decision.allowed


def test_a_number_or_address_not_of_the_case_is_refused_and_nothing_is_logged(db):
    with db.session() as s:
        case = add_case(s)
        for kw in ({"to": "13900000000"}, {"method": "visit", "to": "上海市某路1号"},
                   {"party": "third_party", "third_party_id": 999, "purpose": "locate"}):
            with pytest.raises(InvalidInput) as exc:
                _contact(s, case, **kw)
            assert exc.value.rule == "contact.recipient_not_of_case"
        assert _contact(s, case, method="visit", to=ADDRESS).decision.allowed
        assert _contact(s, case, to="+86 138-1234-5678").decision.allowed
        assert len(_logged(s, case)) == 2


def test_a_registered_third_party_only_after_three_failed_calls_and_never_told_of_the_debt(db):
    with db.session() as s:
        case = add_case(s)
        other = add_case(s, "2")
        tp = register_third_party(s, cipher=CIPHER, borrower_id=case.borrower_id, relation="family", name="张父",
                                  phone="13700001111", actor="sup")
        mine = {"party": "third_party", "third_party_id": tp.id, "purpose": "locate", "to": "13700001111"}
        assert _contact(s, case, **mine).decision.rule == "third_party.debtor_reachable"
        for k in range(3):
            _contact(s, case, at=NOON + timedelta(minutes=k + 1), outcome="no_answer")
        later = NOON + timedelta(minutes=10)
        assert _contact(s, case, at=later, **mine, discloses_debt=True).decision.rule == "third_party.disclosure"
        assert _contact(s, case, at=later, **{**mine, "purpose": "collect"}).decision.rule == "third_party.purpose"
        assert _contact(s, case, at=later, **mine).decision.allowed
        with pytest.raises(InvalidInput) as exc:  # someone else's third party
            _contact(s, other, at=later, **mine)
        assert exc.value.rule == "contact.recipient_not_of_case"


def test_bad_outcomes_and_recordings_are_refused(db):
    with db.session() as s:
        case = add_case(s)
        with pytest.raises(InvalidInput) as exc:
            _contact(s, case, outcome="maybe")
        assert exc.value.rule == "contact.outcome" and _logged(s, case) == []
        with pytest.raises(InvalidInput) as exc:
            _contact(s, case, method="sms", outcome="no_answer", recording_ref="rec://1")
        assert exc.value.rule == "contact.recording_method"
