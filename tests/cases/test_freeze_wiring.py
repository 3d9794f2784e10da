"""The borrower's flags from the database freeze the outbox: refused at queue, and re-checked by the worker
before sending (a complaint filed after queueing blocks the send; blocked, not retried); both backends."""

import itertools
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from arrears.audit.tables import Event
from arrears.cases.flags import borrower_flags, register_collection_stop, set_collection_stopped, set_do_not_contact
from arrears.cases import flags as flags_module
from arrears.complaints.tables import Complaint
from arrears.contact.channels import FileSmsChannel
from arrears.contact.outbox import queue_message
from arrears.contact.tables import OutboxMessage
from arrears.contact.worker import run_worker
from arrears.db.engine import unit_of_work
from arrears.errors import Conflict
from support import CIPHER, add_borrower, add_small_loan

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
NOTICE = ("overdue_notice", {"borrower_name": "张三", "loan_no": "L1", "due_on": date(2026, 2, 5),
                             "days_overdue": 33, "amount_owed_fen": 61_234, "penalty_fen": 1_234})
CODE = ("one_time_code", {"code": "4821", "valid_minutes": 10})  # purpose agreement_service
_numbers = itertools.count(1)


def _borrower(s):
    n = next(_numbers)
    b = add_borrower(s, f"B{n}", id_number=f"11010119900307{n:04d}", phone="13812345678")
    return b.id, add_small_loan(s, b, f"L{n}").id


def _queue(s, who, template, key):
    name, variables = template
    return queue_message(s, cipher=CIPHER, borrower_id=who[0], loan_id=who[1], channel="sms", template=name,
                         variables=variables, dedupe_key=key, now=NOW)


def _complaint(s, borrower_id, status="open"):
    s.add(Complaint(borrower_id=borrower_id, channel="portal", category="harassment", status=status,
                    text_enc=CIPHER.encrypt("x"), filed_at=NOW, sla_due_on=date(2026, 3, 25)))
    s.flush()


def test_queueing_is_refused_while_frozen_naming_the_rule(db):
    with unit_of_work(db.factory) as s:
        who = _borrower(s)
        _complaint(s, who[0])
        with pytest.raises(Conflict) as exc:
            _queue(s, who, NOTICE, "n1")
        assert exc.value.rule == "open_complaint"
        set_do_not_contact(s, borrower_id=who[0], on=True, reason="r", actor="t")
        with pytest.raises(Conflict) as exc:  # do-not-contact allows nothing, not even a sign-in code
            _queue(s, who, CODE, "c1")
        assert exc.value.rule == "do_not_contact"
        other = _borrower(s)
        set_collection_stopped(s, borrower_id=other[0], on=True, reason="个性化分期已签署", actor="t")
        with pytest.raises(Conflict) as exc:
            _queue(s, other, NOTICE, "n2")
        assert exc.value.rule == "collection_stopped"
        assert _queue(s, other, CODE, "c2").status == "pending"  # agreement service still goes out
        assert s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == "n1")) is None


def test_flags_come_from_the_database_and_registered_sources(db, monkeypatch):
    monkeypatch.setattr(flags_module, "_STOP_SOURCES", [])
    with unit_of_work(db.factory) as s:
        a, b = _borrower(s), _borrower(s)
        assert borrower_flags(s, a[0]) == flags_module.BorrowerFlags(a[0])
        _complaint(s, a[0], "resolved")
        assert not borrower_flags(s, a[0]).open_complaint
        _complaint(s, a[0], "in_progress")
        set_do_not_contact(s, borrower_id=a[0], on=True, reason="书面要求", actor="sup")
        assert borrower_flags(s, a[0]) == flags_module.BorrowerFlags(a[0], True, True, False)
        register_collection_stop(lambda session, ids: {i for i in ids if i == b[0]})
        assert borrower_flags(s, b[0]).signed_agreement_with_collection_stop
        assert not borrower_flags(s, a[0]).signed_agreement_with_collection_stop
        events = s.scalars(select(Event.action).where(Event.subject_type == "borrower")).all()
        assert "borrower.do_not_contact" in events


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dnc=st.booleans(), complaint=st.sampled_from([None, "open", "in_progress", "resolved", "rejected"]),
       stopped=st.booleans(), template=st.sampled_from([NOTICE, CODE]))
def test_the_worker_rechecks_flags_set_after_queueing(db, tmp_path_factory, dnc, complaint, stopped, template):
    with unit_of_work(db.factory) as s:
        who = _borrower(s)
        key = f"k{who[0]}"
        _queue(s, who, template, key)
    with unit_of_work(db.factory) as s:  # after queueing, the borrower's situation changes
        if dnc:
            set_do_not_contact(s, borrower_id=who[0], on=True, reason="r", actor="t")
        if complaint:
            _complaint(s, who[0], complaint)
        if stopped:
            set_collection_stopped(s, borrower_id=who[0], on=True, reason="personalised instalment", actor="t")
    purpose = "collect" if template is NOTICE else "agreement_service"
    expected = ("do_not_contact" if dnc else
                "open_complaint" if complaint in ("open", "in_progress") else
                "collection_stopped" if stopped and purpose not in ("agreement_service",) else None)
    out = tmp_path_factory.mktemp("sms") / "sms.jsonl"
    report = run_worker(db.factory, {"sms": FileSmsChannel(out)}, cipher=CIPHER, now=NOW)
    with db.session() as s:
        m = s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
        if expected is None:
            assert (m.status, report.sent, report.blocked) == ("sent", 1, 0)
        else:
            assert (m.status, m.last_error, m.attempts, report.blocked) == ("dead", f"blocked:{expected}", 0, 1)
            assert not out.exists() or out.read_text() == ""
            event = s.scalars(select(Event).where(Event.subject_type == "outbox_message",
                                                  Event.subject_id == str(m.id)).order_by(Event.seq)).all()[-1]
            assert (event.action, event.after) == ("outbox.blocked", {"rule": expected})
    again = run_worker(db.factory, {"sms": FileSmsChannel(out)}, cipher=CIPHER, now=NOW.replace(hour=5))
    assert again.claimed == 0  # blocked is final: never retried
